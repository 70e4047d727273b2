using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Superalign.Experiments.Protocols;
using Superalign.Tests.Experiments.Protocols;
using Xunit;
using static Superalign.Tests.Experiments.ResumeTestKit;

namespace Superalign.Tests.Experiments;

/// <summary>
/// Resuming a protocol run from its run directory (docs/protocols.md, "Resuming a run"): finished units are read back
/// and not computed again, and the result equals that of an uninterrupted run apart from timings.
/// </summary>
public sealed class ProtocolResumeTests
{
    public static TheoryData<string> Names() => new(ProtocolCatalog.All.Select(e => e.Name));

    private static IProtocol Create(string name, ILoggerFactory? logging = null) =>
        ProtocolCatalog.Find(name).Create(TinyOptions(name), logging);

    private static (IProtocolResult Result, List<ProtocolProgress> Reports) RunLogged(IProtocol protocol, ProtocolRun run)
    {
        using var threads = TorchThreads.Single();
        var log = new ProgressLog();
        return (protocol.Run(run, log), log.Reports);
    }

    private static (TResult Result, List<ProtocolProgress> Reports) RunLogged<TOptions, TResult>(IProtocol<TOptions, TResult> protocol, ProtocolRun run)
        where TOptions : IProtocolOptions where TResult : IProtocolResult
    {
        using var threads = TorchThreads.Single();
        var log = new ProgressLog();
        return (protocol.Run(run, log), log.Reports);
    }

    private static List<string> ReadBack(List<ProtocolProgress> reports) =>
        reports.Where(r => r.Stage.EndsWith(": read back", StringComparison.Ordinal)).Select(r => r.Stage[..r.Stage.IndexOf(':')]).ToList();

    /// <summary>Stages of seeds that were computed (trained or evaluated), not read back.</summary>
    private static List<string> Computed(List<ProtocolProgress> reports) =>
        reports.Where(r => r.Stage.StartsWith("seed ", StringComparison.Ordinal) && !r.Stage.EndsWith(": read back", StringComparison.Ordinal))
            .Select(r => r.Stage).ToList();

    [Theory]
    [MemberData(nameof(Names))]
    public void A_run_resumed_from_its_directory_recomputes_nothing_and_equals_an_uninterrupted_run(string name)
    {
        using var directory = new TempDirectory();
        var protocol = Create(name);
        // Two seeds; a seed is one unit, or (co-optimization) one unit per schedule, keyed seed-N.arm-K.
        var bySeed = protocol.Units.GroupBy(u => u.Split('.')[0]).ToList();
        Assert.Equal(2, bySeed.Count);
        var (first, second) = (bySeed[0].ToList(), bySeed[1].ToList());
        var run = new ProtocolRun { Directory = directory.Path };

        var (uninterrupted, _) = RunLogged(protocol, ProtocolRun.None);

        // A shard that ran only the second seed; then the whole run computes the first and reads the second back.
        var (shard, shardReports) = RunLogged(protocol, run with { Units = second });
        Assert.Empty(ReadBack(shardReports));
        Assert.All(second, u => Assert.True(File.Exists(Path.Combine(directory.Path, "units", u + ".json"))));
        Assert.All(first, u => Assert.False(File.Exists(Path.Combine(directory.Path, "units", u + ".json"))));
        var shardSeed = int.Parse(bySeed[1].Key["seed-".Length..], System.Globalization.CultureInfo.InvariantCulture);
        // The shard's result covers its unit only: its seeds, or (results without a seed list) the seeds of its runs.
        var shardJson = JsonNode.Parse(ProtocolJson.Serialize((object)shard))!;
        var seeds = shardJson["seeds"]?.AsArray() ?? new JsonArray(shardJson["runs"]!.AsArray().Select(r => (JsonNode?)r!["seed"]!.DeepClone()).ToArray());
        Assert.Equal([shardSeed], seeds.Select(s => (int)s!).Distinct());

        var (resumed, resumedReports) = RunLogged(protocol, run);
        Assert.Equal([$"seed {shardSeed}"], ReadBack(resumedReports).Distinct());
        Assert.NotEmpty(Computed(resumedReports));
        Assert.Equal(resumedReports[^1].Total, resumedReports[^1].Done);
        Assert.Equal(WithoutTimings(uninterrupted), WithoutTimings(resumed));

        // Run again: every unit is read back, nothing is trained, and the units come back bit for bit (timings included).
        var unitFiles = Directory.GetFiles(Path.Combine(directory.Path, "units")).Order().ToList();
        var before = unitFiles.Select(File.ReadAllBytes).ToList();
        var (again, againReports) = RunLogged(protocol, run);
        Assert.Equal(bySeed.Select(g => "seed " + g.Key["seed-".Length..]), ReadBack(againReports).Distinct());
        Assert.Empty(Computed(againReports));
        Assert.Equal(againReports[^1].Total, againReports[^1].Done);
        Assert.Equal(before, unitFiles.Select(File.ReadAllBytes));
        Assert.Equal(WithoutRunTimings(resumed), WithoutRunTimings(again));
        Assert.Equal(WithoutTimings(uninterrupted), WithoutTimings(again));
        Assert.Empty(Directory.GetFiles(directory.Path, "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public void Co_optimization_arms_computed_as_separate_shares_merge_to_the_uninterrupted_run()
    {
        using var directory = new TempDirectory();
        var protocol = (CoOptimizationComparison)Create(CoOptimizationComparison.ProtocolName);
        Assert.Equal(["seed-3.arm-0", "seed-3.arm-1", "seed-4.arm-0", "seed-4.arm-1"], protocol.Units);
        var (uninterrupted, _) = RunLogged(protocol, ProtocolRun.None);

        // A summary needs whole seeds: Run refuses a selection that splits one, naming the seed.
        var split = Assert.Throws<ArgumentException>(() => protocol.Run(new ProtocolRun { Units = ["seed-3.arm-1", "seed-4.arm-0", "seed-4.arm-1"] }));
        Assert.Contains("seed 3", split.Message);
        Assert.Contains("Compute", split.Message);

        // Each arm on its own, in a fresh protocol object each time (as separate processes would), in a scrambled order;
        // every share trains its seed's base again from the seed alone.
        var run = new ProtocolRun { Directory = directory.Path };
        foreach (var unit in new[] { "seed-4.arm-1", "seed-3.arm-0", "seed-4.arm-0", "seed-3.arm-1" })
        {
            var log = new ProgressLog();
            using (TorchThreads.Single()) Create(CoOptimizationComparison.ProtocolName).Compute(run with { Units = [unit] }, log);
            Assert.Equal(log.Reports[^1].Total, log.Reports[^1].Done);
            Assert.Contains(log.Reports, r => r.Stage.EndsWith("base trained", StringComparison.Ordinal));
        }
        var (merged, reports) = RunLogged(protocol, run with { ComputeMissing = false });
        Assert.Empty(Computed(reports));
        Assert.Equal(WithoutTimings(uninterrupted), WithoutTimings(merged));
    }

    [Fact]
    public void A_directory_of_other_options_is_refused_naming_it_and_both_fingerprints()
    {
        using var directory = new TempDirectory();
        var options = (SandwichingOptions)TinyOptions(Sandwiching.ProtocolName);
        var run = new ProtocolRun { Directory = directory.Path, Units = ["seed-1"] };
        using (TorchThreads.Single()) new Sandwiching(options).Run(run);

        var other = new Sandwiching(options with { JudgeSteps = options.JudgeSteps + 1 });
        var error = Assert.Throws<InvalidOperationException>(() => other.Run(run));
        string ours = ProtocolUnitStore.ComputeFingerprint(Sandwiching.ProtocolName, options);
        string theirs = ProtocolUnitStore.ComputeFingerprint(Sandwiching.ProtocolName, other.Options);
        Assert.NotEqual(ours, theirs);
        Assert.Contains(Path.GetFullPath(directory.Path), error.Message);
        Assert.Contains(ours, error.Message);
        Assert.Contains(theirs, error.Message);

        // Also when only a unit file is left (run.json deleted): the unit's own stamp is checked.
        File.Delete(Path.Combine(directory.Path, ProtocolUnitStore.ManifestFileName));
        error = Assert.Throws<InvalidOperationException>(() => other.Run(run));
        Assert.Contains(ours, error.Message);
        // External inputs are part of the fingerprint too.
        Assert.NotEqual(ours, ProtocolUnitStore.ComputeFingerprint(Sandwiching.ProtocolName, options, "data.csv sha256:0"));
    }

    [Fact]
    public void A_truncated_unit_is_reported_and_computed_again_and_a_dead_process_temporary_file_is_deleted()
    {
        using var directory = new TempDirectory();
        var logging = new RecordingLoggerFactory();
        var protocol = new Sandwiching((SandwichingOptions)TinyOptions(Sandwiching.ProtocolName), logging);
        var run = new ProtocolRun { Directory = directory.Path };
        var (complete, _) = RunLogged(protocol, run);

        string unitPath = Path.Combine(directory.Path, "units", "seed-2.json");
        string text = File.ReadAllText(unitPath);
        File.WriteAllText(unitPath, text[..(text.Length / 2)]);
        string host = string.Concat(Environment.MachineName.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_'));
        string stale = Path.Combine(directory.Path, "units", $".seed-1.json.{host}.{DeadPid()}.0123abcd.tmp");
        string live = Path.Combine(directory.Path, "units", $".seed-1.json.{host}.{Environment.ProcessId}.4567ef01.tmp");
        string elsewhere = Path.Combine(directory.Path, "units", $".seed-1.json.otherhost{host}.1.89ab.tmp");
        foreach (var file in new[] { stale, live, elsewhere }) File.WriteAllText(file, "{");
        logging.Lines.Clear();

        var (repaired, reports) = RunLogged(protocol, run);
        Assert.Equal(["seed 1"], ReadBack(reports));
        Assert.Contains(Computed(reports), s => s.StartsWith("seed 2:", StringComparison.Ordinal));
        Assert.Contains(logging.Lines, l => l.Level == LogLevel.Warning && l.Message.Contains("seed-2") && l.Message.Contains("damaged"));
        // The same file but for the wall time and the time in its provenance.
        Assert.Equal(WithoutProvenanceTime(text), WithoutProvenanceTime(File.ReadAllText(unitPath).Replace(ExtractWallSeconds(File.ReadAllText(unitPath)), ExtractWallSeconds(text))));
        Assert.Equal(WithoutTimings(complete), WithoutTimings(repaired));
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(live));
        Assert.True(File.Exists(elsewhere));
    }

    private static string WithoutProvenanceTime(string unitFile)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(unitFile)!.AsObject();
        Assert.True(node[ProtocolUnitStore.ProvenanceProperty]!.AsObject().Remove("timeUtc"));
        return node.ToJsonString();
    }

    [Fact]
    public void Selections_and_missing_units_fail_clearly()
    {
        using var directory = new TempDirectory();
        var protocol = new Sandwiching((SandwichingOptions)TinyOptions(Sandwiching.ProtocolName));
        Assert.Equal(["seed-1", "seed-2"], protocol.Units);
        var unknown = Assert.Throws<ArgumentException>(() => protocol.Run(new ProtocolRun { Units = ["seed-3"] }));
        Assert.Contains("seed-3", unknown.Message);
        Assert.Throws<ArgumentException>(() => protocol.Run(new ProtocolRun { Units = [] }));
        var missing = Assert.Throws<InvalidOperationException>(() => protocol.Run(new ProtocolRun { Directory = directory.Path, ComputeMissing = false }));
        Assert.Contains("seed-1", missing.Message);
        Assert.Contains("ComputeMissing", missing.Message);
    }

    [Fact]
    public void Unit_data_round_trip_exactly_including_awkward_doubles()
    {
        using var directory = new TempDirectory();
        var options = TinyOptions(Sandwiching.ProtocolName);
        var store = ProtocolUnitStore.Open(directory.Path, Sandwiching.ProtocolName, options, ["a"]);
        double[] values = [0.1 + 0.2, 1.0 / 3, Math.PI, double.Epsilon, double.MaxValue, -double.MinValue, 1e-300, -0.0, double.NaN,
            double.PositiveInfinity, double.NegativeInfinity, 0.7234567890123456, BitConverter.Int64BitsToDouble(0x3FEFFFFFFFFFFFFF)];
        var random = new Random(7);
        values = [.. values, .. Enumerable.Range(0, 1000).Select(_ => BitConverter.Int64BitsToDouble(random.NextInt64()))];
        store.Write("a", values);
        Assert.True(store.TryRead("a", out double[]? back));
        Assert.Equal(values.Select(BitConverter.DoubleToInt64Bits), back!.Select(BitConverter.DoubleToInt64Bits));
        Assert.False(store.TryRead("b", out double[]? _));
        Assert.Equal(["a"], store.StoredUnits());
        Assert.Throws<ArgumentException>(() => store.UnitPath("../escape"));
    }

    [Fact]
    public void A_protocol_without_units_runs_as_before_and_refuses_a_directory_or_a_selection()
    {
        var protocol = new WholeRun();
        Assert.Empty(protocol.Units);
        Assert.Equal(1.5, protocol.Run(ProtocolRun.None).Value);
        Assert.Throws<NotSupportedException>(() => protocol.Run(new ProtocolRun { Directory = "unused" }));
        Assert.Throws<NotSupportedException>(() => ((IProtocol)protocol).Run(new ProtocolRun { Units = ["seed-0"] }));
    }

    [Fact]
    public void The_extending_example_protocol_resumes_from_its_units()
    {
        using var directory = new TempDirectory();
        var protocol = new Docs.MyProtocol(new Docs.MyProtocolOptions { Seeds = [0, 1], Steps = 12 });
        Assert.Equal(["seed-0", "seed-1"], protocol.Units);
        var run = new ProtocolRun { Directory = directory.Path };
        var (shard, _) = RunLogged(protocol, run with { Units = ["seed-1"] });
        var (whole, reports) = RunLogged(protocol, run);
        Assert.Equal(["seed 1"], ReadBack(reports));
        Assert.Equal(["seed 0: trained"], Computed(reports));
        Assert.Equal(shard.RewardAccuracies[0], whole.RewardAccuracies[1]);
        Assert.Equal(RunLogged(protocol, ProtocolRun.None).Result.RewardAccuracies, whole.RewardAccuracies);
    }

    private sealed record WholeRunOptions : IProtocolOptions
    {
        public void Validate() { }
    }

    private sealed record WholeRunResult(double Value, double WallSeconds) : IProtocolResult;

    /// <summary>A protocol that overrides only <c>Run(progress, ct)</c>, as protocols written before units did.</summary>
    private sealed class WholeRun() : Protocol<WholeRunOptions, WholeRunResult>("whole-run", new WholeRunOptions(), null)
    {
        public override WholeRunResult Run(IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default) => new(1.5, 0);
    }

    private static string ExtractWallSeconds(string unitJson) =>
        JsonNode.Parse(unitJson)!["data"]!["row"]!["wallSeconds"]!.ToJsonString();

    private static int DeadPid()
    {
        for (int pid = 4_000_000; ; pid--)
        {
            try
            {
                using var p = System.Diagnostics.Process.GetProcessById(pid);
            }
            catch (ArgumentException)
            {
                return pid;
            }
        }
    }
}
