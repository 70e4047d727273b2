using System.Diagnostics;
using System.Globalization;
using Superalign.Cli;
using Superalign.Experiments.Protocols;
using Superalign.Tests.Experiments;
using Xunit;

namespace Superalign.Tests.Cli;

/// <summary>
/// The default shard from the environment: a Slurm array task's variables, or a Kubernetes indexed Job's
/// <c>JOB_COMPLETION_INDEX</c> with the count from <c>SUPERALIGN_SHARD_COUNT</c> (which the Job's manifest sets).
/// </summary>
public sealed class ShardEnvironmentTests
{
    [Theory]
    [InlineData(null, "", "none")]
    [InlineData("1/4", "", "1/4")]
    [InlineData("1/4", "SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_COUNT=3 JOB_COMPLETION_INDEX=0 SUPERALIGN_SHARD_COUNT=2", "1/4")]
    [InlineData(null, "SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_COUNT=3", "2/3")]
    [InlineData(null, "SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_COUNT=3 JOB_COMPLETION_INDEX=0 SUPERALIGN_SHARD_COUNT=2", "2/3")]
    [InlineData(null, "JOB_COMPLETION_INDEX=3 SUPERALIGN_SHARD_COUNT=4", "3/4")]
    [InlineData(null, "JOB_COMPLETION_INDEX=0 SUPERALIGN_SHARD_COUNT=1", "0/1")]
    public void The_shard_comes_from_the_option_then_Slurm_then_an_indexed_Job(string? option, string environment, string expected)
    {
        var shard = CommandLine.Shard(option, Environment(environment));
        Assert.Equal(expected, shard is { } s ? $"{s.Index}/{s.Count}" : "none");
    }

    [Theory]
    [InlineData("JOB_COMPLETION_INDEX=3", "JOB_COMPLETION_INDEX=3 (a Kubernetes indexed Job) gives this shard's index but not the count: set SUPERALIGN_SHARD_COUNT")]
    [InlineData("SUPERALIGN_SHARD_COUNT=4", "SUPERALIGN_SHARD_COUNT=4 is set but no shard index is")]
    [InlineData("JOB_COMPLETION_INDEX=4 SUPERALIGN_SHARD_COUNT=4", "JOB_COMPLETION_INDEX/SUPERALIGN_SHARD_COUNT = 4/4: expected i/N")]
    [InlineData("JOB_COMPLETION_INDEX=x SUPERALIGN_SHARD_COUNT=4", "JOB_COMPLETION_INDEX/SUPERALIGN_SHARD_COUNT = x/4: expected i/N")]
    [InlineData("SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_COUNT=3", "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT = 3/3: expected i/N")]
    public void An_incomplete_or_bad_shard_environment_is_an_error_naming_the_variables(string environment, string expected)
    {
        var e = Assert.ThrowsAny<Exception>(() => CommandLine.Shard(null, Environment(environment)));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public async Task Pods_of_an_indexed_Job_merge_to_the_result_of_one_process()
    {
        using var dir = new ResumeTestKit.TempDirectory();
        string config = Path.Combine(dir.Path, "options.json"), runDir = Path.Combine(dir.Path, "job"), whole = Path.Combine(dir.Path, "whole");
        var written = CommandLineTests.Run(["run", "sandwiching", .. CommandLineTests.TinySettings(), "--seeds", "1-3", "--write-config", config]);
        Assert.True(written.Code == 0, written.Err);
        // What Kubernetes does for an indexed Job with completions: 2: one pod per index, JOB_COMPLETION_INDEX set;
        // the manifest sets SUPERALIGN_SHARD_COUNT to the completions (docs/scale-out.md). The pods run at once.
        var pods = Enumerable.Range(0, 2).Select(index => RunCli(["run", "sandwiching", "--config", config, "--out", runDir],
            new() { ["JOB_COMPLETION_INDEX"] = index.ToString(CultureInfo.InvariantCulture), [CommandLine.ShardCountVariable] = "2" })).ToArray();
        foreach (var (pod, index) in (await Task.WhenAll(pods)).Select((p, i) => (p, i)))
        {
            Assert.True(pod.Code == 0, $"pod {index}: {pod.Err}");
            Assert.Contains($"shard {index}/2", pod.Out);
        }
        Assert.Equal(3, Directory.GetFiles(Path.Combine(runDir, ProtocolUnitStore.UnitsFolderName), "*.json").Length);
        Assert.Equal(0, CommandLineTests.Run("merge", runDir).Code);
        Assert.Equal(0, CommandLineTests.Run("run", "sandwiching", "--config", config, "--out", whole).Code);
        Assert.Equal(CommandLineTests.WithoutTimings(Path.Combine(whole, CommandLine.ResultFileName)), CommandLineTests.WithoutTimings(Path.Combine(runDir, CommandLine.ResultFileName)));
    }

    [Fact]
    public async Task A_pod_that_knows_only_its_index_exits_with_code_2_before_any_work()
    {
        using var dir = new ResumeTestKit.TempDirectory();
        var pod = await RunCli(["run", "sandwiching", "--out", Path.Combine(dir.Path, "job")], new() { ["JOB_COMPLETION_INDEX"] = "1" });
        Assert.Equal(CommandLine.BadInput, pod.Code);
        Assert.Contains("JOB_COMPLETION_INDEX=1", pod.Err);
        Assert.Contains(CommandLine.ShardCountVariable, pod.Err);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "job", ProtocolUnitStore.UnitsFolderName)));
    }

    private static Func<string, string?> Environment(string assignments)
    {
        var values = assignments.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(a => a.Split('=', 2)).ToDictionary(a => a[0], a => a[1]);
        return name => values.GetValueOrDefault(name);
    }

    /// <summary>The command line as a child process (dotnet Superalign.Cli.dll), with <paramref name="variables"/> set and no Slurm array variables.</summary>
    private static async Task<(int Code, string Out, string Err)> RunCli(string[] args, Dictionary<string, string> variables)
    {
        string host = System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h ? h : "dotnet";
        var start = new ProcessStartInfo(host, [typeof(CommandLine).Assembly.Location, .. args])
            { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var name in new[] { "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "JOB_COMPLETION_INDEX", CommandLine.ShardCountVariable }) start.Environment.Remove(name);
        foreach (var (name, value) in variables) start.Environment[name] = value;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"superalign {string.Join(' ', args)} did not finish in 5 minutes.");
        }
        return (process.ExitCode, await output, await error);
    }
}
