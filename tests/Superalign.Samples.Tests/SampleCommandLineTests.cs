using System.Diagnostics;
using Xunit;

namespace Superalign.Samples.Tests;

/// <summary>
/// Every sample rejects every bad command line before any work: exit code 2, ONE line on stderr that names the option
/// (no stack trace), and nothing written (the working directory and the output directory stay empty). The built sample
/// programs run in child processes (<c>dotnet Sample.dll …</c>), exactly as users start them. A sample that accepted a
/// bad line would start training and be stopped by the guard of <see cref="SampleProcess.Run"/> (a failure).
/// </summary>
public sealed class SampleCommandLineTests
{
    public static TheoryData<string, string[], string> BadCommandLines()
    {
        var rows = new TheoryData<string, string[], string>
        {
            // Quickstart takes no options.
            { "Quickstart", ["--seeds", "3"], "'--seeds'" },
            { "Quickstart", ["extra"], "'extra'" },
            { "Quickstart", ["--out", "x"], "takes no options" },

            // Sandwiching: bad numbers, values its options reject, unknown options, missing values.
            { "Sandwiching", ["--seeds", "x"], "--seeds" },
            { "Sandwiching", ["--seeds", "0"], "--seeds" },
            { "Sandwiching", ["--seeds", "99999999999"], "--seeds" },
            { "Sandwiching", ["--seeds"], "--seeds" },
            { "Sandwiching", ["--reveals", "40"], "--reveals" },
            { "Sandwiching", ["--reveals", "0"], "--reveals" },
            { "Sandwiching", ["--evidence", "50"], "--evidence" },
            { "Sandwiching", ["--amplitude", "-1"], "--amplitude" },
            { "Sandwiching", ["--amplitude", "nan"], "--amplitude" },
            { "Sandwiching", ["--device", "tpu"], "--device" },
            { "Sandwiching", ["--threads", "-2"], "--threads" },
            { "Sandwiching", ["--bogus", "1"], "'--bogus'" },
            { "Sandwiching", ["--seeds", "2", "--seeds", "3"], "--seeds" },

            // WeakToStrong.
            { "WeakToStrong", ["--seeds", "three"], "--seeds" },
            { "WeakToStrong", ["--seeds", "-1"], "--seeds" },
            { "WeakToStrong", ["--loss", "nope"], "--loss" },
            { "WeakToStrong", ["--ensemble", "yes"], "--ensemble" },
            { "WeakToStrong", ["--threads", "x"], "--threads" },
            { "WeakToStrong", ["positional"], "'positional'" },

            // GapAnnealing.
            { "GapAnnealing", ["--only", "nope"], "--only" },
            { "GapAnnealing", ["--acceptance", "maybe"], "--acceptance" },
            { "GapAnnealing", ["--schedule", "stride:x"], "--schedule" },
            { "GapAnnealing", ["--schedule", "stride:0"], "--schedule" },
            { "GapAnnealing", ["--margin", "-1"], "--margin" },
            { "GapAnnealing", ["--probe", "0"], "--probe" },
            { "GapAnnealing", ["--pacing", "fast"], "--pacing" },
            { "GapAnnealing", ["--ladder", "w-d1"], "--ladder" },
            { "GapAnnealing", ["--ladder", "w16-d1"], "--ladder" },
            { "GapAnnealing", ["--members", "w99999999999-d1"], "--members" },
            { "GapAnnealing", ["--only", "diversity", "--margin", "2"], "--margin" },
            { "GapAnnealing", ["--seeds", "0"], "--seeds" },

            // CoOptimization.
            { "CoOptimization", ["--budget", "0"], "--budget" },
            { "CoOptimization", ["--loss", "nope"], "--loss" },
            { "CoOptimization", ["--beta", "-1"], "--beta" },
            { "CoOptimization", ["--lr", "0"], "--lr" },
            { "CoOptimization", ["--schedules", "nope"], "--schedules" },
            { "CoOptimization", ["--conflict-aware", "x"], "--conflict-aware" },

            // SelfEnhancement.
            { "SelfEnhancement", ["--rounds", "0"], "--rounds" },
            { "SelfEnhancement", ["--temperature", "-1"], "--temperature" },
            { "SelfEnhancement", ["--judges", "Self,Nobody"], "--judges" },
            { "SelfEnhancement", ["--loss", "nope"], "--loss" },
            { "SelfEnhancement", ["--steps", "1.5"], "--steps" },
        };
        // An output directory that cannot be written fails before the work, not after it (results were lost).
        foreach (var sample in new[] { "Sandwiching", "WeakToStrong", "GapAnnealing", "CoOptimization", "SelfEnhancement" })
        {
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
        Assert.StartsWith($"{sample}: ", line);
        Assert.Contains(named, line);
        Assert.DoesNotContain("Exception", line);
        Assert.Equal("", run.Output);
        Assert.False(Directory.Exists(output), "the output directory was created");
        Assert.Equal(directory.Expected, directory.Entries());
    }

    [Theory]
    [InlineData("Quickstart")]
    [InlineData("Sandwiching")]
    [InlineData("WeakToStrong")]
    [InlineData("GapAnnealing")]
    [InlineData("CoOptimization")]
    [InlineData("SelfEnhancement")]
    public void Help_prints_the_usage_and_exits_with_0(string sample)
    {
        using var directory = new ScratchDirectory();
        var run = SampleProcess.Run(sample, directory.Path, "--help");
        Assert.Equal(0, run.ExitCode);
        Assert.StartsWith($"usage: {sample}", run.Output);
        Assert.Equal("", run.Error);
        Assert.Equal(directory.Expected, directory.Entries());
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
