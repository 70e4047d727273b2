using Superalign.Cli;
using Superalign.Experiments.Protocols;
using Superalign.Tests.Experiments;
using Xunit;

namespace Superalign.Tests.Cli;

/// <summary>What a sample program adds to <c>superalign run</c>: its default seeds and output directory, and for a sample of two protocols, both checked before either runs.</summary>
public sealed class RunSampleTests
{
    private static (int Code, string Out, string Err) Sample(IReadOnlyList<string> protocols, params string[] args)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        int code = CommandLine.RunSample(protocols, args, "default-out", "0-4", output, error);
        return (code, output.ToString(), error.ToString());
    }

    private static IReadOnlyList<int> Seeds(string config) =>
        ((SandwichingOptions)ProtocolCatalog.Find(Sandwiching.ProtocolName).ReadOptions(File.ReadAllText(config))).Seeds;

    [Fact]
    public void The_default_seeds_apply_unless_seeds_or_a_config_file_is_given()
    {
        using var dir = new ResumeTestKit.TempDirectory();
        string first = Path.Combine(dir.Path, "a.json"), second = Path.Combine(dir.Path, "b.json"), third = Path.Combine(dir.Path, "c.json");
        Assert.Equal(0, Sample(["sandwiching"], "--write-config", first).Code);
        Assert.Equal([0, 1, 2, 3, 4], Seeds(first));
        Assert.Equal(0, Sample(["sandwiching"], "--seeds", "7", "--write-config", second).Code);
        Assert.Equal([7], Seeds(second));
        // A config file keeps its seeds.
        Assert.Equal(0, Sample(["sandwiching"], "--config", second, "--write-config", third).Code);
        Assert.Equal([7], Seeds(third));
        Assert.False(Directory.Exists("default-out"), "--write-config created the default output directory");
    }

    [Fact]
    public void Help_says_what_the_sample_adds_and_lists_the_run_options()
    {
        var (code, output, _) = Sample(["sandwiching"], "--help");
        Assert.Equal(0, code);
        Assert.Contains("--seeds 0-4", output.Split('\n')[0]);
        foreach (var option in new[] { "--set", "--config", "--seeds", "--out", "--threads", "--jobs", "--write-config" })
            Assert.Contains(option, output);
    }

    [Theory]
    [InlineData("gap-annealing: invalid options", "--set", "ladder=[]")]
    [InlineData("diversified-supervision: --set acceptance", "--set", "acceptance=always")]
    [InlineData("--write-config", "--write-config", "x.json")]
    [InlineData("Unrecognized", "--bogus")]
    public void A_sample_of_two_protocols_checks_both_before_running_either(string expected, params string[] args)
    {
        using var dir = new ResumeTestKit.TempDirectory();
        var (code, output, error) = Sample(["gap-annealing", "diversified-supervision"], [.. args, "--out", dir.Path]);
        Assert.Equal(CommandLine.BadInput, code);
        Assert.Equal("", output);
        Assert.Contains(expected, Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    /// <summary>
    /// samples/CoOptimization/conflict-aware.json is the preset the sample's old <c>--conflict-aware</c> flag made: the
    /// conflict-aware schedules, 128 probe prompts held out for their searches, seeds 0-4, every other option at its
    /// default. SUPERALIGN_UPDATE_FIXTURES=1 rewrites it (as <c>--write-config</c> would).
    /// </summary>
    [Fact]
    public void The_conflict_aware_config_of_the_co_optimization_sample_holds_the_conflict_aware_schedules()
    {
        var expected = new CoOptimizationOptions { Seeds = [0, 1, 2, 3, 4], Schedules = ScheduleCandidate.ConflictAware(), ProbePrompts = 128 };
        string path = Path.Combine(Docs.ReadmeTests.RepoRoot(), "samples", "CoOptimization", "conflict-aware.json");
        string json = System.Text.Json.JsonSerializer.Serialize(expected, typeof(CoOptimizationOptions), ProtocolJson.Options);
        if (Environment.GetEnvironmentVariable("SUPERALIGN_UPDATE_FIXTURES") == "1") File.WriteAllText(path, json);
        Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(System.Text.Json.Nodes.JsonNode.Parse(json), System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))),
            $"{path} differs from the conflict-aware preset; SUPERALIGN_UPDATE_FIXTURES=1 rewrites it");
        // The file is what the command line reads.
        var (code, _, err) = Sample(["co-optimization"], "--config", path, "--write-config", Path.Combine(Path.GetTempPath(), $"conflict-aware-{Guid.NewGuid():N}.json"));
        Assert.True(code == 0, err);
    }

    /// <summary>
    /// docs/results/weak-conformity/config.json is the weak-conformity run of results.md: <see cref="AlignmentArm.WeakJudges"/>,
    /// no paired comparisons, seeds 0-9, every other option at its default. SUPERALIGN_UPDATE_FIXTURES=1 rewrites it.
    /// </summary>
    [Fact]
    public void The_weak_conformity_config_holds_the_weak_judge_arms()
    {
        var expected = new AlignmentTaxOptions { Seeds = [.. Enumerable.Range(0, 10)], Arms = AlignmentArm.WeakJudges(), Comparisons = [] };
        string path = Path.Combine(Docs.ReadmeTests.RepoRoot(), "docs", "results", "weak-conformity", "config.json");
        string json = System.Text.Json.JsonSerializer.Serialize(expected, typeof(AlignmentTaxOptions), ProtocolJson.Options);
        if (Environment.GetEnvironmentVariable("SUPERALIGN_UPDATE_FIXTURES") == "1") File.WriteAllText(path, json);
        Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(System.Text.Json.Nodes.JsonNode.Parse(json), System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))),
            $"{path} differs from AlignmentArm.WeakJudges(); SUPERALIGN_UPDATE_FIXTURES=1 rewrites it");
        var (code, _, err) = Sample(["alignment-tax"], "--config", path, "--write-config", Path.Combine(Path.GetTempPath(), $"weak-conformity-{Guid.NewGuid():N}.json"));
        Assert.True(code == 0, err);
    }
}
