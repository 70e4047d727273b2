using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.DotNetCli;
using BenchmarkDotNet.Running;

namespace Superalign.Benchmarks;

/// <summary>
/// Step-throughput suite.
/// <list type="bullet">
/// <item><c>dotnet run -c Release --project benchmarks/Superalign.Benchmarks -- [--quick] [BenchmarkDotNet args]</c>:
/// with no <c>--filter</c>, the MLP and tiny-LM step benchmarks, the matmul peak and (where Python with torch is found) the PyTorch
/// peer comparison; the GPT-2-shaped classes only when a filter names them. <c>--quick</c>: short runs.</item>
/// <item><c>... -- --soak [steps] [mlp|lm|gpt2|gpt2-lora] [shape]</c>: the leak check (default 10,000 steps on the
/// 64x256x3 MLP); under <c>/usr/bin/time -v</c> it also gives a fixture's peak memory.</item>
/// <item><c>... -- --paired [seconds] [fixture ...]</c>: the ratio targets as interleaved pairs in one process (see
/// <see cref="Paired"/>; default 20 s per comparison, every fixture; writes paired.json).</item>
/// <item><c>... -- --threads [seconds]</c>: one thread against all cores per MLP width, interleaved (see
/// <see cref="ThreadCount"/>; default 10 s per width; writes threads.json).</item>
/// </list>
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "--soak")
        {
            long steps = args.Length > 1 ? long.Parse(args[1]) : 10_000;
            string model = args.Length > 2 ? args[2] : "mlp";
            string shape = args.Length > 3 ? args[3] : model == "mlp" ? "64x256x3" : model.StartsWith("gpt2", StringComparison.Ordinal) ? "d768-L12-T128" : "d128-L2-T64";
            return Soak.Run(model, shape, steps, tolerancePercent: 3, jsonPath: "soak.json");
        }
        if (args.Length > 0 && args[0] == "--paired")
        {
            double seconds = args.Length > 1 && double.TryParse(args[1], System.Globalization.CultureInfo.InvariantCulture, out var s) ? s : 20;
            var only = args.Skip(1).Where(a => !double.TryParse(a, System.Globalization.CultureInfo.InvariantCulture, out _)).ToList();
            return Paired.Run(seconds, "paired.json", only);
        }
        if (args.Length > 0 && args[0] == "--threads")
        {
            double seconds = args.Length > 1 && double.TryParse(args[1], System.Globalization.CultureInfo.InvariantCulture, out var s) ? s : 10;
            return ThreadCount.Run(seconds, "threads.json");
        }
        bool quick = args.Contains("--quick");
        var rest = args.Where(a => a != "--quick").ToList();
        // BenchmarkDotNet's generated projects switch off Directory.Build.* imports, so the native-load fix reaches
        // them through MSBuild's CustomAfterMicrosoftCommonTargets hook instead.
        var fix = new MsBuildArgument($"/p:CustomAfterMicrosoftCommonTargets={Path.Combine(TorchPeer.RepoRoot(), "src", "Superalign", "build", "Superalign.targets")}");
        var job = (quick ? Job.ShortRun.WithWarmupCount(2).WithIterationCount(5).WithLaunchCount(1) : Job.Default).WithArguments(new[] { fix });
        var config = DefaultConfig.Instance.AddColumn(ThroughputColumn.All).AddJob(job.AsDefault());
        if (!rest.Contains("--filter"))
        {
            rest.Add("--filter");
            // The GPT-2-shaped classes (seconds per step, minutes per peer invocation) run only when named.
            rest.AddRange(new[] { "*MatmulPeak*", "*MlpStepBenchmarks*", "*LmStepBenchmarks*" });
            if (TorchPeer.Available()) rest.AddRange(new[] { "*MlpPeerBenchmarks*", "*LmPeerBenchmarks*" });
            else Console.WriteLine($"PyTorch peer skipped: {TorchPeer.Python} cannot import torch (Debian: apt install python3-torch).");
        }
        // One summary for all classes, so the throughput columns see the matmul peak measured in the same run.
        if (!rest.Contains("--join")) rest.Add("--join");
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(rest.ToArray(), config);
        return 0;
    }
}
