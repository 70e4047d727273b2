using System.Diagnostics;
using Xunit;

namespace Superalign.Samples.Tests;

/// <summary>
/// The samples are <c>superalign run &lt;protocol&gt;</c> with their defaults (Quickstart aside, which takes no options). A
/// bad command line exits with 2 and ONE line on stderr that names the option (no stack trace) and writes nothing; help
/// lists the command line's options; a tiny run set up with <c>--set</c> writes result.json and prints the report. The
/// built sample programs run in child processes (<c>dotnet Sample.dll …</c>), exactly as users start them. A sample
/// that accepted a bad line would start training and be stopped by the guard of <see cref="SampleProcess.Run"/>.
/// </summary>
public sealed class SampleCommandLineTests
{
    private static readonly string[] Wrappers = ["Sandwiching", "WeakToStrong", "GapAnnealing", "CoOptimization", "SelfEnhancement", "AlignmentTax"];

    public static TheoryData<string, string[], string> BadCommandLines()
    {
        var rows = new TheoryData<string, string[], string>
        {
            // Quickstart takes no options.
            { "Quickstart", ["--seeds", "3"], "'--seeds'" },
            { "Quickstart", ["extra"], "'extra'" },
            { "Quickstart", ["--out", "x"], "takes no options" },

            // Values a protocol's options reject, and the GapAnnealing sample's settings that only one of its protocols has.
            { "Sandwiching", ["--set", "reveals=40"], "Reveals" },
            { "Sandwiching", ["--seeds", "3-1"], "--seeds" },
            { "Sandwiching", ["--threads", "0"], "--threads" },
            { "WeakToStrong", ["--set", "steps=0"], "Steps" },
            { "CoOptimization", ["--set", "batchBudget=0"], "BatchBudget" },
            { "SelfEnhancement", ["--set", "rounds=0"], "Rounds" },
            { "AlignmentTax", ["--set", "heldOutTrigger=30"], "HeldOutTrigger" },
            { "GapAnnealing", ["--set", "acceptance=always"], "diversified-supervision: --set acceptance" },
            { "GapAnnealing", ["--set", "curriculumPacing=partitioned"], "gap-annealing: --set curriculumPacing" },
            { "GapAnnealing", ["--write-config", "x.json"], "--write-config" },
        };
        foreach (var sample in Wrappers)
        {
            rows.Add(sample, ["--bogus", "1"], "'--bogus'");
            rows.Add(sample, ["--seeds", "x"], "--seeds x");
            rows.Add(sample, ["--set", "nope=1"], "'nope'");
            rows.Add(sample, ["--config", "missing.json"], "missing.json");
            // An output directory that cannot be written fails before the work, not after it (results were lost).
            rows.Add(sample, ["--out", SampleProcess.Blocked], "--out");
            if (OperatingSystem.IsLinux()) rows.Add(sample, ["--out", "/proc/x"], "--out");
        }
        return rows;
    }

    [Theory]
    [MemberData(nameof(BadCommandLines))]
    public void A_bad_command_line_exits_with_2_and_one_line_naming_the_option_before_any_work(string sample, string[] args, string named)
    {
        using var directory = new ScratchDirectory();
        var output = Path.Combine(directory.Path, "out");
        var full = args.Contains("--out") || sample == "Quickstart" ? args : [.. args, "--out", output];
        full = full.Select(a => a == SampleProcess.Blocked ? directory.BlockedPath : a).ToArray();

        var run = SampleProcess.Run(sample, directory.Path, full);

        Assert.Equal(2, run.ExitCode);
        var lines = run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var line = Assert.Single(lines);
        Assert.StartsWith(sample == "Quickstart" ? "Quickstart: " : "superalign: ", line);
        Assert.Contains(named, line);
        Assert.DoesNotContain("Exception", line);
        Assert.Equal("", run.Output);
        Assert.False(Directory.Exists(output), "the output directory was created");
        Assert.Equal(directory.Expected, directory.Entries());
    }

    [Fact]
    public void Quickstart_help_prints_its_usage()
    {
        using var directory = new ScratchDirectory();
        var run = SampleProcess.Run("Quickstart", directory.Path, "--help");
        Assert.Equal(0, run.ExitCode);
        Assert.StartsWith("usage: Quickstart", run.Output);
        Assert.Equal("", run.Error);
    }

    [Theory]
    [InlineData("Sandwiching", "sandwiching")]
    [InlineData("WeakToStrong", "weak-to-strong")]
    [InlineData("GapAnnealing", "gap-annealing")]
    [InlineData("CoOptimization", "co-optimization")]
    [InlineData("SelfEnhancement", "self-enhancement")]
    [InlineData("AlignmentTax", "alignment-tax")]
    public void Help_names_the_protocol_and_lists_the_command_line_options(string sample, string protocol)
    {
        using var directory = new ScratchDirectory();
        var run = SampleProcess.Run(sample, directory.Path, "--help");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains($"superalign run {protocol}", run.Output.Split('\n')[0]);
        foreach (var option in new[] { "--set", "--config", "--seeds", "--out", "--threads", "--jobs", "--write-config" })
            Assert.Contains(option, run.Output);
        Assert.Equal("", run.Error);
        Assert.Equal(directory.Expected, directory.Entries());
    }

    [Fact]
    public void A_tiny_run_set_up_with_set_writes_result_json_to_the_default_directory_and_prints_the_report()
    {
        using var directory = new ScratchDirectory();
        var run = SampleProcess.Run("Sandwiching", directory.Path, "--seeds", "1", "--set", "trainSize=300", "--set", "testSize=100",
            "--set", "judgeSteps=30", "--set", "expertSteps=30", "--set", "batchSize=64", "--set", "bootstrapResamples=50", "--set", "device=cpu");
        Assert.True(run.ExitCode == 0, run.Error);
        string result = Path.Combine(directory.Path, "artifacts", "sandwiching", "result.json");
        Assert.True(File.Exists(result), $"no {result}; output:\n{run.Output}");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(result))!;
        Assert.Equal(300, json["options"]!["trainSize"]!.GetValue<int>());
        double noHelp = json["noHelp"]!["mean"]!.GetValue<double>();
        Assert.Contains("sandwiching: 1 seed(s);", run.Output);
        Assert.Contains($"judge, no help          {noHelp.ToString("P1", System.Globalization.CultureInfo.InvariantCulture),14}", run.Output);
    }

    /// <summary>An empty working directory for one run, deleted afterwards.</summary>
    private sealed class ScratchDirectory : IDisposable
    {
        public ScratchDirectory()
        {
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"superalign-samples-{Guid.NewGuid():N}");
            Directory.CreateDirectory(Path);
            // A file where a directory would have to be: "blocker/x" can be neither created nor written.
            File.WriteAllText(System.IO.Path.Combine(Path, "blocker"), "");
            Expected = ["blocker"];
        }

        public string Path { get; }

        public string BlockedPath => System.IO.Path.Combine(Path, "blocker", "x");

        public string[] Expected { get; }

        public string[] Entries() => Directory.GetFileSystemEntries(Path, "*", SearchOption.AllDirectories)
            .Select(e => System.IO.Path.GetRelativePath(Path, e)).Order(StringComparer.Ordinal).ToArray();

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}

/// <summary>Runs a built sample program in a child process.</summary>
internal static class SampleProcess
{
    /// <summary>Placeholder for an output path that cannot be created (replaced per test).</summary>
    public const string Blocked = "<blocked>";

    public sealed record Result(int ExitCode, string Output, string Error);

    public static Result Run(string sample, string workingDirectory, params string[] args)
    {
        // tests/Superalign.Samples.Tests/bin/<Configuration>/<tfm>/: the samples are built next to it, same configuration.
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string framework = here.Name, configuration = here.Parent!.Name;
        var root = here;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Superalign.sln"))) root = root.Parent;
        if (root is null) throw new InvalidOperationException($"No Superalign.sln above {AppContext.BaseDirectory}.");
        string dll = Path.Combine(root.FullName, "samples", sample, "bin", configuration, framework, sample + ".dll");
        if (!File.Exists(dll)) throw new InvalidOperationException($"{dll} is missing: build the solution ({configuration}) first.");

        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        // A guard against a sample that accepts the line and starts training, not a measure of speed.
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            throw new Xunit.Sdk.XunitException($"{sample} {string.Join(' ', args)} did not exit: it accepted the command line and started the work.");
        }
        return new Result(process.ExitCode, output.Result, error.Result);
    }
}
