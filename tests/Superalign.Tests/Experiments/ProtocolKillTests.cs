using System.Diagnostics;
using System.Reflection;
using Superalign.Experiments.Protocols;
using Superalign.Tests.Experiments.Protocols;
using Superalign.Tests.Infrastructure;
using Xunit;
using static Superalign.Tests.Experiments.ResumeTestKit;

namespace Superalign.Tests.Experiments;

/// <summary>
/// A protocol run killed with SIGKILL in another process (tests/Superalign.TestHost) and run again with the same
/// command: the units finished before the kill are read back, not trained again, and the result equals an
/// uninterrupted run's apart from timings.
/// </summary>
public sealed class ProtocolKillTests
{
    /// <summary>Five seeds of about a second each on one thread: the kill lands while later seeds train.</summary>
    private static readonly SandwichingOptions Options = new()
    {
        Seeds = [1, 2, 3, 4, 5], TrainSize = 1000, TestSize = 200, JudgeSteps = 300, ExpertSteps = 150, BatchSize = 64,
        BootstrapResamples = 100, Device = "cpu",
    };

    /// <summary>How long the test waits for the host before it gives up (a hang, not a measurement).</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);

    [Fact]
    public void A_killed_run_resumes_without_redoing_its_finished_units()
    {
        using var directory = new TempDirectory();
        string optionsPath = Path.Combine(directory.Path, "options.json");
        string runDirectory = Path.Combine(directory.Path, "run");
        string units = Path.Combine(runDirectory, ProtocolUnitStore.UnitsFolderName);
        string resultPath = Path.Combine(directory.Path, "result.json");
        File.WriteAllText(optionsPath, ProtocolJson.Serialize(Options));
        string[] arguments = ["run", Sandwiching.ProtocolName, optionsPath, runDirectory, resultPath];

        // 1. Start the run and kill it (SIGKILL) as soon as a unit file exists.
        var firstOutput = new List<string>();
        using (var first = StartHost(arguments, firstOutput))
        {
            var watch = Stopwatch.StartNew();
            while (!(Directory.Exists(units) && Directory.EnumerateFiles(units, "*.json").Any()))
            {
                Assert.False(first.HasExited, $"The host exited (code {(first.HasExited ? first.ExitCode : 0)}) before finishing a unit:\n{Text(firstOutput)}");
                Assert.True(watch.Elapsed < Patience, $"No unit file after {Patience}:\n{Text(firstOutput)}");
                Thread.Sleep(10);
            }
            first.Kill(entireProcessTree: true);
            first.WaitForExit();
        }
        Assert.False(File.Exists(resultPath), "The run finished before it was killed; the test needs slower options.");
        var finished = Directory.GetFiles(units, "*.json").ToDictionary(
            f => Path.GetFileNameWithoutExtension(f), f => (Bytes: File.ReadAllBytes(f), Written: File.GetLastWriteTimeUtc(f)));
        Assert.InRange(finished.Count, 1, Options.Seeds.Count - 1);

        // 2. The same command again: it reads the finished units back and trains only the others.
        var secondOutput = new List<string>();
        using (var second = StartHost(arguments, secondOutput))
        {
            Assert.True(second.WaitForExit(Patience), $"The resumed run did not end within {Patience}:\n{Text(secondOutput)}");
            second.WaitForExit();
            Assert.True(second.ExitCode == 0, $"The resumed run failed (code {second.ExitCode}):\n{Text(secondOutput)}");
        }
        foreach (int seed in Options.Seeds)
        {
            string unit = $"seed-{seed}";
            bool wasFinished = finished.ContainsKey(unit);
            Assert.Equal(wasFinished, secondOutput.Any(l => l.EndsWith($"] seed {seed}: read back", StringComparison.Ordinal)));
            Assert.Equal(!wasFinished, secondOutput.Any(l => l.EndsWith($"] seed {seed}: judge trained", StringComparison.Ordinal)));
            if (wasFinished)
            {
                string path = Path.Combine(units, unit + ".json");
                Assert.Equal(finished[unit].Bytes, File.ReadAllBytes(path));
                Assert.Equal(finished[unit].Written, File.GetLastWriteTimeUtc(path));
            }
        }
        Assert.Empty(Directory.GetFiles(runDirectory, "*.tmp", SearchOption.AllDirectories));

        // 3. The result equals an uninterrupted run's, apart from timings.
        SandwichingResult uninterrupted;
        using (TorchThreads.Single()) uninterrupted = new Sandwiching(Options).Run();
        Assert.Equal(WithoutTimings(uninterrupted), WithoutTimings(ProtocolJson.Deserialize<SandwichingResult>(File.ReadAllText(resultPath))));
    }

    private static string Text(List<string> lines)
    {
        lock (lines) return string.Join("\n", lines);
    }

    private static Process StartHost(string[] arguments, List<string> output)
    {
        var process = new Process { StartInfo = TestHostProcess.StartInfo(arguments) };
        void Add(object _, DataReceivedEventArgs e)
        {
            if (e.Data is null) return;
            lock (output) output.Add(e.Data);
        }
        process.OutputDataReceived += Add;
        process.ErrorDataReceived += Add;
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }
}
