using System.Diagnostics;
using System.Globalization;
using Superalign.Cli;
using Superalign.Experiments.Protocols;
using Superalign.Tests.Experiments;
using Superalign.Tests.Infrastructure;
using Xunit;

namespace Superalign.Tests.Cli;

/// <summary>
/// The sbatch script of <c>superalign slurm</c> submitted to a real Slurm cluster (tests/slurm/cluster.sh starts one
/// on this machine; CI does, and sets <c>SUPERALIGN_REQUIRE_SLURM=1</c> so that this cannot skip there).
/// </summary>
public sealed class SlurmClusterTests
{
    private static readonly TimeSpan JobLimit = TimeSpan.FromMinutes(10);

    [SlurmFact]
    public void A_sweep_submitted_with_sbatch_as_an_array_merges_to_the_result_of_one_process()
    {
        if (SlurmFactAttribute.Unreachable() is { } why) Assert.Fail($"{SlurmFactAttribute.RequireVariable}=1 but no Slurm cluster is reachable: {why}.");
        using var dir = new ResumeTestKit.TempDirectory();
        string runDir = Path.Combine(dir.Path, "array"), whole = Path.Combine(dir.Path, "whole");
        var written = CommandLineTests.Run(["slurm", "sandwiching", .. CommandLineTests.TinySettings(), "--seeds", "1-3", "--out", runDir, "--tasks", "2", "--sbatch", "--time=00:10:00"]);
        Assert.True(written.Code == 0, written.Err);
        string script = Path.Combine(runDir, CommandLine.SlurmScriptName);

        // Submit the array and wait for every task; sbatch --wait exits with the highest exit code of the tasks.
        var (code, output, error) = Shell("sbatch", ["--parsable", "--wait", script], JobLimit);
        if (code is null) Shell("scancel", ["--name=superalign-sandwiching"], TimeSpan.FromSeconds(30));
        string logs = string.Join("\n", Directory.GetFiles(runDir, "slurm-*.out").Order().Select(f => $"--- {Path.GetFileName(f)}\n{File.ReadAllText(f)}"));
        Assert.True(code == 0, $"sbatch --wait exited with {code}: {error}\n{logs}");
        string jobId = output.Trim().Split(';')[0];
        Assert.Matches("^[0-9]+$", jobId);

        // Both array tasks ran under Slurm (each wrote its own output file) and each kept its shard's units.
        for (int task = 0; task < 2; task++)
            Assert.True(File.Exists(Path.Combine(runDir, string.Create(CultureInfo.InvariantCulture, $"slurm-{jobId}_{task}.out"))), $"no output of task {task}:\n{logs}");
        Assert.Equal(3, Directory.GetFiles(Path.Combine(runDir, ProtocolUnitStore.UnitsFolderName), "*.json").Length);

        var merged = CommandLineTests.Run("merge", runDir);
        Assert.True(merged.Code == 0, merged.Err);
        var one = CommandLineTests.Run("run", "sandwiching", "--config", Path.Combine(runDir, CommandLine.SlurmOptionsName), "--out", whole);
        Assert.True(one.Code == 0, one.Err);
        Assert.Equal(CommandLineTests.WithoutTimings(Path.Combine(whole, CommandLine.ResultFileName)), CommandLineTests.WithoutTimings(Path.Combine(runDir, CommandLine.ResultFileName)));
    }

    /// <summary>Runs a program, returning its exit code (null when killed past <paramref name="limit"/>), stdout and stderr.</summary>
    private static (int? Code, string Out, string Err) Shell(string program, string[] args, TimeSpan limit)
    {
        var start = new ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            return (null, output.Result, $"{program} did not finish in {limit}; {error.Result}");
        }
        process.WaitForExit();
        return (process.ExitCode, output.Result, error.Result);
    }
}
