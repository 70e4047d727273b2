using System.Diagnostics;
using Superalign.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;
using static Superalign.Tests.Checkpoints.CheckpointTestSupport;

namespace Superalign.Tests.Checkpoints;

/// <summary>
/// Crash and resume across processes: the test host (tests/Superalign.TestHost, command <c>train</c>) trains a scenario with a
/// checkpoint after every update; the test kills it with SIGKILL at a random update, starts it again on the same
/// directory, and compares the final run state with an uninterrupted run's, bit for bit (one torch thread in both).
/// </summary>
public sealed class KillResumeTests(ITestOutputHelper output)
{
    private static Process Start(string scenario, string dir, string final) =>
        Process.Start(TestHostProcess.StartInfo(["train", scenario, dir, final, "1"]))!;

    private static string RunToEnd(string scenario, string dir, string final)
    {
        using var p = Start(scenario, dir, final);
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(3)), "The training host did not finish.");
        Assert.True(p.ExitCode == 0, $"The training host failed ({p.ExitCode}): {stderr.Result}");
        return stdout;
    }

    [Theory]
    [InlineData("plain", 1)]
    [InlineData("pcgrad-accumulation", 2)]
    [InlineData("trdpo", 3)]
    [InlineData("lm-dropout", 4)]
    public void A_run_killed_at_a_random_update_resumes_to_the_same_final_state(string scenario, int seed)
    {
        string dir = TempDir();
        string expected = Path.Combine(dir, "uninterrupted.ckpt");
        RunToEnd(scenario, Path.Combine(dir, "a"), expected);

        int killAt = new Random(seed).Next(3, 25);
        string resumedDir = Path.Combine(dir, "b");
        using (var p = Start(scenario, resumedDir, Path.Combine(dir, "never.ckpt")))
        {
            string? line;
            while ((line = p.StandardOutput.ReadLine()) is not null && line != $"step {killAt}")
            {
            }
            Assert.NotNull(line);
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            Assert.NotEqual(0, p.ExitCode);
        }
        Assert.False(File.Exists(Path.Combine(dir, "never.ckpt")), "The killed run reached its end.");

        string actual = Path.Combine(dir, "resumed.ckpt");
        string log = RunToEnd(scenario, resumedDir, actual);
        string resumed = log.Split('\n')[0].Trim();
        output.WriteLine($"{scenario}: killed after update {killAt}; the second run says '{resumed}'");
        Assert.StartsWith("resumed ", resumed);
        long resumedAt = long.Parse(resumed.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        // "step k" is printed before checkpoint k is written, and the host may get further before the signal lands.
        Assert.True(resumedAt >= killAt - 1, $"Resumed at {resumedAt}, before the last checkpoint the killed run had written.");
        AssertSameState(expected, actual, IsTiming);
        Assert.All(Directory.GetFiles(resumedDir), f => Assert.EndsWith(".ckpt", f));
    }
}
