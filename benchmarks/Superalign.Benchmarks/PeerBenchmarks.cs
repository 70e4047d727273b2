using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Superalign.Optimization;
using TorchSharp;

namespace Superalign.Benchmarks;

/// <summary>
/// A PyTorch eager process (<c>benchmarks/peer/torch_peer.py --serve</c>) that performs the same training steps when
/// asked over stdin: <c>run K</c> → K steps → <c>done</c>. BenchmarkDotNet times the round trip, so the peer and this
/// library are measured side by side in one run, with the same shapes and thread count.
/// </summary>
public sealed class TorchPeer : IDisposable
{
    private readonly Process _process;

    public TorchPeer(string model, string shape, string phase, bool cachedReference, int threads, int warmupSteps = 4)
    {
        string script = Path.Combine(RepoRoot(), "benchmarks", "peer", "torch_peer.py");
        var start = new ProcessStartInfo(Python)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { script, "--serve", "--model", model, "--shape", shape, "--phase", phase, "--threads", threads.ToString(), "--warmup", warmupSteps.ToString() })
            start.ArgumentList.Add(a);
        if (cachedReference) start.ArgumentList.Add("--cached-reference");
        _process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {Python}.");
        Expect("ready");
    }

    /// <summary>The Python interpreter with torch: <c>SUPERALIGN_PEER_PYTHON</c>, or Debian's <c>/usr/bin/python3</c>.</summary>
    public static string Python => Environment.GetEnvironmentVariable("SUPERALIGN_PEER_PYTHON") ?? "/usr/bin/python3";

    /// <summary>Whether the peer can run here (the interpreter imports torch).</summary>
    public static bool Available()
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(Python, "-c \"import torch\"") { RedirectStandardError = true, UseShellExecute = false });
            if (p is null) return false;
            p.WaitForExit(60_000);
            return p.HasExited && p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    /// <summary>Performs <paramref name="steps"/> training steps in the peer.</summary>
    public void Run(int steps)
    {
        _process.StandardInput.WriteLine($"run {steps}");
        _process.StandardInput.Flush();
        Expect("done");
    }

    private void Expect(string word)
    {
        string? line = _process.StandardOutput.ReadLine();
        if (line != word)
            throw new InvalidOperationException($"The PyTorch peer answered '{line ?? "<end of output>"}' instead of '{word}' (exit code {(_process.HasExited ? _process.ExitCode : null)}).");
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.WriteLine("quit");
                _process.StandardInput.Flush();
                if (!_process.WaitForExit(10_000)) _process.Kill();
            }
        }
        finally
        {
            _process.Dispose();
        }
    }

    internal static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Superalign.sln"))) return dir.FullName;
        throw new InvalidOperationException($"Superalign.sln not found above {AppContext.BaseDirectory}.");
    }
}

/// <summary>
/// This library's steps against the same steps in PyTorch eager (TRL style: the DPO peer runs a reference forward
/// every step; the cached-reference peer precomputes reference log-probs like this library does). Baseline = this
/// library, so the Ratio column reads "peer time / Superalign time".
/// </summary>
public abstract class PeerBenchmarksBase
{
    private const int Steps = 4;
    private StepFixture? _fixture;
    private TorchPeer? _eager;
    private TorchPeer? _cached;
    private Func<StepReport> _step = null!;

    protected abstract string Model { get; }

    public abstract string Shape { get; set; }

    [Params("competence", "conformity", "alternating")]
    public virtual string Phase { get; set; } = "competence";

    /// <summary>Untimed steps each peer process runs before it answers <c>ready</c>.</summary>
    protected virtual int PeerWarmupSteps => 4;

    // Each method gets only what it times: a GPT-2-sized peer takes minutes to start and warm up, and two of them
    // beside the library's fixture would not fit the memory of a small machine.
    [GlobalSetup(Target = nameof(ThisLibrary))]
    public void SetupLibrary()
    {
        torch.set_num_threads(Environment.ProcessorCount);
        _fixture = StepFixture.For(Model, Shape);
        _step = Phase switch
        {
            "competence" => _fixture.Competence,
            "conformity" => _fixture.Conformity,
            _ => _fixture.Alternating,
        };
    }

    [GlobalSetup(Target = nameof(PyTorchEager))]
    public void SetupEager() => _eager = new TorchPeer(Model, Shape, Phase, cachedReference: false, Environment.ProcessorCount, PeerWarmupSteps);

    /// <summary>Competence steps have no reference: the cached-reference peer is then the eager one.</summary>
    [GlobalSetup(Target = nameof(PyTorchCachedReference))]
    public void SetupCached() => _cached = new TorchPeer(Model, Shape, Phase, cachedReference: Phase != "competence", Environment.ProcessorCount, PeerWarmupSteps);

    [Benchmark(Baseline = true, OperationsPerInvoke = Steps)]
    public void ThisLibrary()
    {
        for (int i = 0; i < Steps; i++) _step();
    }

    [Benchmark(OperationsPerInvoke = Steps)]
    public void PyTorchEager() => _eager!.Run(Steps);

    /// <summary>The peer with cached reference log-probs (competence steps have no reference: same as eager).</summary>
    [Benchmark(OperationsPerInvoke = Steps)]
    public void PyTorchCachedReference() => _cached!.Run(Steps);

    [GlobalCleanup]
    public void Cleanup()
    {
        _eager?.Dispose();
        _cached?.Dispose();
        _fixture?.Dispose();
        (_eager, _cached, _fixture) = (null, null, null);
    }
}

/// <summary>MLP steps against PyTorch eager.</summary>
[MemoryDiagnoser]
[StepModel("mlp")]
public class MlpPeerBenchmarks : PeerBenchmarksBase
{
    protected override string Model => "mlp";

    [Params("64x256x3", "128x1024x3")]
    public override string Shape { get; set; } = "64x256x3";
}

/// <summary>Tiny-LM steps against PyTorch eager.</summary>
[MemoryDiagnoser]
[StepModel("lm")]
public class LmPeerBenchmarks : PeerBenchmarksBase
{
    protected override string Model => "lm";

    [Params("d128-L2-T64", "d256-L4-T128")]
    public override string Shape { get; set; } = "d128-L2-T64";
}

/// <summary>
/// The GPT-2-small-shaped alternating step (124 M parameters, sequence length 128, 4 pairs / 8 sequences) against
/// PyTorch eager: the issue's target shape. Only the alternating phase (two competence and two DPO steps per invocation).
/// </summary>
[MemoryDiagnoser]
[StepModel("gpt2")]
public class Gpt2PeerBenchmarks : PeerBenchmarksBase
{
    protected override string Model => "gpt2";

    [Params("d768-L12-T128")]
    public override string Shape { get; set; } = "d768-L12-T128";

    [Params("alternating")]
    public override string Phase { get; set; } = "alternating";

    protected override int PeerWarmupSteps => 1;
}

/// <summary>
/// The GPT-2-small-shaped alternating step against PyTorch eager with a TRL-style reference forward every DPO step,
/// one competence and one DPO step per invocation (2 operations), for runs short enough to finish: Debian's PyTorch
/// needs minutes per step at this shape, so <see cref="Gpt2PeerBenchmarks"/> (4 steps per invocation, a cached-reference
/// peer too) takes hours. The peer answers <c>ready</c> without warm-up steps; run with
/// <c>--warmupCount 0 --iterationCount 2 --invocationCount 1 --unrollFactor 1</c>.
/// </summary>
[MemoryDiagnoser]
[StepModel("gpt2")]
public class Gpt2PeerPairBenchmarks
{
    private const int Steps = 2;
    private StepFixture? _fixture;
    private TorchPeer? _eager;

    /// <summary>GPT-2 small (the throughput columns read the step cost from it).</summary>
    [Params("d768-L12-T128")]
    public string Shape { get; set; } = "d768-L12-T128";

    [GlobalSetup(Target = nameof(ThisLibrary))]
    public void SetupLibrary()
    {
        torch.set_num_threads(Environment.ProcessorCount);
        _fixture = StepFixture.For("gpt2", Shape);
    }

    [GlobalSetup(Target = nameof(PyTorchEager))]
    public void SetupEager() => _eager = new TorchPeer("gpt2", Shape, "alternating", cachedReference: false, Environment.ProcessorCount, warmupSteps: 0);

    /// <summary>A competence step then a DPO step (the fixture's 1:1 schedule).</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Steps)]
    public void ThisLibrary()
    {
        for (int i = 0; i < Steps; i++) _fixture!.Alternating();
    }

    /// <summary>Two alternating steps of the peer: one competence and one DPO step with its reference forward.</summary>
    [Benchmark(OperationsPerInvoke = Steps)]
    public void PyTorchEager() => _eager!.Run(Steps);

    [GlobalCleanup]
    public void Cleanup()
    {
        _eager?.Dispose();
        _fixture?.Dispose();
        (_eager, _fixture) = (null, null);
    }
}
