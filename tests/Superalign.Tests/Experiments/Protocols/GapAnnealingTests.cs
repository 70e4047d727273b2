using Superalign.Experiments.Metrics;
using Superalign.Experiments.Protocols;
using Superalign.Experiments.Tasks;
using Xunit;

namespace Superalign.Tests.Experiments.Protocols;

public sealed class GapAnnealingTests
{
    /// <summary>A small run for the mechanics: three rungs, short pretraining and training, hundreds of examples.</summary>
    private static readonly GapAnnealingOptions Quick = new()
    {
        Task = new RepresentationTaskOptions { PretrainSteps = 300 },
        Ladder = [new(8, 1), new(16, 1), new(32, 2)],
        TrainSize = 600,
        ProbeSize = 200,
        TestSize = 500,
        Seeds = [0, 1],
        StepsPerRound = 60,
        BootstrapResamples = 200,
    };

    private static GapAnnealingResult Run(GapAnnealingOptions options, IProgress<ProtocolProgress>? progress = null, CancellationToken ct = default)
    {
        using var threads = TorchThreads.Single();
        return new GapAnnealing(options).Run(progress, ct);
    }

    private static AcceptanceDecision Decide(double[] student, double[] supervisor, AcceptanceRule rule, double margin = 0) =>
        GapAnnealing.Decide(student, supervisor, rule, margin, level: 0.95, resamples: 2000, seed: 1);

    /// <summary>Per-example probe correctness with <paramref name="hits"/> ones out of <paramref name="n"/>, the ones first.</summary>
    private static double[] Correct(int hits, int n) => Enumerable.Range(0, n).Select(i => i < hits ? 1.0 : 0.0).ToArray();

    [Fact]
    public void A_small_run_finishes_in_seconds_and_gives_the_direct_student_the_chains_budget()
    {
        var result = Run(Quick);

        Assert.True(result.WallSeconds < 30, $"took {result.WallSeconds:F1} s");
        Assert.Equal(new GapAnnealingSampleSizes(600, 300, 300, 200, 500), result.SampleSizes);
        Assert.Equal(new[] { "w8-d1", "w16-d1", "w32-d2" }, result.Trunks.Select(t => t.Spec.Name));
        Assert.Equal(2, result.PerSeed.Count);
        foreach (var s in result.PerSeed)
        {
            // One size at a time: two rounds, to w16-d1 and to w32-d2; round 1 is supervised by the weak model.
            Assert.Equal(new[] { (1, 1), (2, 2) }, s.Rounds.Select(r => (r.Round, r.StudentRung)));
            Assert.Equal(("w8-d1", 0), (s.Rounds[0].Supervisor, s.Rounds[0].SupervisorRung));
            // Round 2's supervisor is the round-1 student if it was accepted, the weak model otherwise.
            Assert.Equal(s.Rounds[0].Decision.Accepted ? 1 : 0, s.Rounds[1].SupervisorRung);
            Assert.Equal(s.Rounds[0].Decision.Accepted ? s.Rounds[0].StudentProbeAccuracy : s.WeakProbeAccuracy, s.Rounds[1].SupervisorProbeAccuracy);

            // The budget: the direct student trains for exactly the chain's total number of updates.
            Assert.Equal(s.Rounds.Sum(r => r.Steps), s.ChainSteps);
            Assert.Equal(2 * Quick.StepsPerRound, s.ChainSteps);
            Assert.Equal(s.ChainSteps, s.DirectSteps);
            Assert.Equal(0, s.CapabilityEstimationSteps);
            Assert.Empty(s.Capabilities);

            Assert.Equal((s.Rounds.Count(r => r.Decision.Accepted), s.Rounds.Count(r => !r.Decision.Accepted)), (s.Accepted, s.Rejected));
            Assert.Equal(s.Rounds[^1].StudentTestAccuracy, s.ChainedAccuracy);
            Assert.Equal(s.Rounds[^1].CeilingTestAccuracy, s.CeilingAccuracy);
            Assert.Equal(s.ChainedAccuracy - s.DirectAccuracy, s.ChainedMinusDirect.Estimate, 12);
            Assert.Equal(("w8-d1", "w32-d2"), (s.Weak, s.Target));
            if (s.CeilingAccuracy > s.WeakTestAccuracy)
                Assert.Equal((s.ChainedAccuracy - s.WeakTestAccuracy) / (s.CeilingAccuracy - s.WeakTestAccuracy), s.ChainedPgr, 12);
            Assert.Equal(s.ChainedWeakErrors.WeakErrors, (int)Math.Round((1 - s.WeakTestAccuracy) * 500));
            Assert.All(s.Rounds, r => Assert.Equal(r.StudentProbeAccuracy - r.SupervisorProbeAccuracy, r.Decision.Difference, 12));
        }

        var summary = result.Summary;
        Assert.Equal(result.PerSeed.Average(s => s.ChainedAccuracy - s.DirectAccuracy), summary.ChainedMinusDirect.Mean, 12);
        Assert.Equal(2, summary.ChainedMinusDirect.Count);
        Assert.Equal(4, summary.Accepted + summary.Rejected);
        Assert.Equal(new[] { "w16-d1", "w32-d2" }, summary.Rungs.Select(r => r.Trunk));
        Assert.All(summary.Rungs, r => Assert.Equal(2, r.Rounds));
    }

    [Fact]
    public void A_stride_schedule_skips_sizes_and_the_budget_follows_the_rounds()
    {
        var result = Run(Quick with { Seeds = [0], Schedule = GapSchedule.Stride(2) });

        var s = Assert.Single(result.PerSeed);
        var round = Assert.Single(s.Rounds);
        Assert.Equal((0, 2), (round.SupervisorRung, round.StudentRung));
        Assert.Equal(Quick.StepsPerRound, s.ChainSteps);
        Assert.Equal(Quick.StepsPerRound, s.DirectSteps);
    }

    [Fact]
    public void The_capability_gap_schedule_estimates_every_size_on_the_probe_set()
    {
        var options = Quick with { Seeds = [0], Schedule = GapSchedule.MinimumCapabilityGap(0.0), CapabilityFolds = 2, CapabilitySteps = 40 };
        var result = Run(options);

        var s = Assert.Single(result.PerSeed);
        Assert.Equal(new[] { 0, 1, 2 }, s.Capabilities.Select(c => c.Rung));
        Assert.All(s.Capabilities, c => Assert.InRange(c.Capability, 0.2, 1.0));
        Assert.Equal(3 * 2 * 40, s.CapabilityEstimationSteps);
        // Not counted in the students' budget.
        Assert.Equal(s.Rounds.Count * options.StepsPerRound, s.ChainSteps);
        Assert.Equal(s.ChainSteps, s.DirectSteps);
        Assert.Equal(2, s.Rounds[^1].StudentRung);
    }

    [Fact]
    public void A_student_with_lower_probe_accuracy_is_rejected_and_the_previous_supervisor_keeps_supervising()
    {
        // Stub models: names. Probe correctness over 100 examples: the weak model 70 %, the rung-1 student 65 % (worse),
        // the rung-2 student 80 %, the rung-3 student 85 %.
        var probe = new Dictionary<string, double[]>
        {
            ["weak"] = Correct(70, 100), ["s1"] = Correct(65, 100), ["s2"] = Correct(80, 100), ["s3"] = Correct(85, 100),
        };
        var supervisors = new List<(string Supervisor, int Rung, int Round)>();
        var trace = GapAnnealing.RunChain("weak", probe["weak"], last: 3, GapSchedule.OneSizeAtATime, null,
            (supervisor, rung, round) =>
            {
                supervisors.Add((supervisor, rung, round));
                return $"s{rung}";
            },
            model => probe[model],
            (student, supervisor, _) => Decide(student, supervisor, AcceptanceRule.Margin),
            CancellationToken.None);

        // s1 is worse than the weak model on the probes: rejected, so the weak model also supervises rung 2.
        Assert.Equal(new[] { ("weak", 1, 1), ("weak", 2, 2), ("s2", 3, 3) }, supervisors);
        Assert.Equal(new[] { false, true, true }, trace.Steps.Select(s => s.Decision.Accepted));
        Assert.Equal(new[] { 0, 0, 2 }, trace.Steps.Select(s => s.SupervisorRung));
        Assert.Equal(new[] { 0.70, 0.70, 0.80 }, trace.Steps.Select(s => s.SupervisorProbeAccuracy));
        Assert.Equal(("s3", 3), (trace.Output, trace.OutputRung));

        // The same chain where the last student is also worse: the chain ends with s2 as its output.
        probe["s3"] = Correct(75, 100);
        var ending = GapAnnealing.RunChain("weak", probe["weak"], 3, GapSchedule.OneSizeAtATime, null,
            (_, rung, _) => $"s{rung}", model => probe[model], (student, supervisor, _) => Decide(student, supervisor, AcceptanceRule.Margin),
            CancellationToken.None);
        Assert.Equal(("s2", 2), (ending.Output, ending.OutputRung));
        Assert.Equal("s3", ending.Steps[^1].Student);
        Assert.False(ending.Steps[^1].Decision.Accepted);

        // Under "always", the worse student is accepted anyway.
        var always = GapAnnealing.RunChain("weak", probe["weak"], 3, GapSchedule.OneSizeAtATime, null,
            (_, rung, _) => $"s{rung}", model => probe[model], (student, supervisor, _) => Decide(student, supervisor, AcceptanceRule.Always),
            CancellationToken.None);
        Assert.Equal(new[] { "weak", "s1", "s2" }, always.Steps.Select(s => s.Supervisor));
    }

    [Fact]
    public void The_acceptance_rules_follow_their_definitions()
    {
        var supervisor = Correct(70, 100);

        // Margin: strictly more than the margin.
        Assert.False(Decide(Correct(65, 100), supervisor, AcceptanceRule.Margin).Accepted);
        Assert.False(Decide(Correct(70, 100), supervisor, AcceptanceRule.Margin).Accepted);
        var better = Decide(Correct(71, 100), supervisor, AcceptanceRule.Margin);
        Assert.True(better.Accepted);
        Assert.Equal(0.01, better.Difference, 12);
        Assert.False(Decide(Correct(72, 100), supervisor, AcceptanceRule.Margin, margin: 0.02).Accepted);
        Assert.True(Decide(Correct(73, 100), supervisor, AcceptanceRule.Margin, margin: 0.02).Accepted);

        // Always: even a worse student.
        Assert.True(Decide(Correct(10, 100), supervisor, AcceptanceRule.Always).Accepted);

        // Bootstrap lower bound: one more hit out of 100 is noise; +25 points on the same examples is not.
        var noisy = Decide(Correct(71, 100), supervisor, AcceptanceRule.BootstrapLowerBound);
        Assert.False(noisy.Accepted);
        Assert.True(noisy.Interval.Lower <= 0, $"lower bound {noisy.Interval.Lower}");
        var clear = Decide(Correct(95, 100), supervisor, AcceptanceRule.BootstrapLowerBound);
        Assert.True(clear.Accepted);
        Assert.True(clear.Interval.Lower > 0.15, $"lower bound {clear.Interval.Lower}");
        // The student fixes exactly examples 70..94 and breaks none, so every resample keeps a positive difference.
        Assert.Equal(0.25, clear.Difference, 12);
    }

    [Fact]
    public void The_schedules_pick_the_next_rung_as_documented()
    {
        Assert.Equal(1, GapSchedule.OneSizeAtATime.Next(0, 4, 0.7, null));
        Assert.Equal(3, GapSchedule.Stride(3).Next(0, 4, 0.7, null));
        Assert.Equal(4, GapSchedule.Stride(3).Next(3, 4, 0.7, null));

        double[] capabilities = [0.70, 0.71, 0.75, 0.90, 0.95];
        Assert.Equal(2, GapSchedule.MinimumCapabilityGap(0.04).Next(0, 4, 0.70, capabilities));
        Assert.Equal(3, GapSchedule.MinimumCapabilityGap(0.10).Next(0, 4, 0.70, capabilities));
        // No intermediate size is far enough ahead: go to the largest.
        Assert.Equal(4, GapSchedule.MinimumCapabilityGap(0.30).Next(0, 4, 0.70, capabilities));
        // Only sizes after the last trained one are candidates.
        Assert.Equal(3, GapSchedule.MinimumCapabilityGap(0.0).Next(2, 4, 0.70, capabilities));
        Assert.Throws<ArgumentException>(() => GapSchedule.MinimumCapabilityGap(0.1).Next(0, 4, 0.7, null));
        Assert.Throws<ArgumentException>(() => GapSchedule.OneSizeAtATime.Next(4, 4, 0.7, null));
    }

    [Fact]
    public void The_result_round_trips_through_json()
    {
        var result = Run(Quick with { Seeds = [3], Schedule = GapSchedule.MinimumCapabilityGap(0.01), CapabilitySteps = 20 });
        var path = Path.Combine(Directory.CreateTempSubdirectory("superalign-annealing-").FullName, "out", "result.json");
        try
        {
            ProtocolJson.Write(result, path);
            string json = File.ReadAllText(path);
            var back = ProtocolJson.Deserialize<GapAnnealingResult>(json);

            Assert.Equal(json, ProtocolJson.Serialize(back));
            Assert.Equal(GapScheduleKind.CapabilityGap, back.Options.Schedule.Kind);
            Assert.Equal(0.01, back.Options.Schedule.Delta);
            Assert.Equal(result.PerSeed[0].Rounds, back.PerSeed[0].Rounds);
            Assert.Equal(result.PerSeed[0].ChainedMinusDirect, back.PerSeed[0].ChainedMinusDirect);
            Assert.Equal(result.PerSeed[0].Capabilities, back.PerSeed[0].Capabilities);
            Assert.Equal(result.Summary.Chained, back.Summary.Chained);
            // One seed has no spread: NaN is written as a string and read back.
            Assert.True(double.IsNaN(back.Summary.Chained.StandardDeviation));
            Assert.Contains("\"acceptance\": \"margin\"", json);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(Path.GetDirectoryName(path))!, recursive: true);
        }
    }

    [Fact]
    public void Progress_is_reported_and_cancellation_stops_the_run()
    {
        var reports = new List<ProtocolProgress>();
        using var cts = new CancellationTokenSource();
        var progress = new Recorder(p =>
        {
            reports.Add(p);
            if (p.Stage.Contains("round 1", StringComparison.Ordinal)) cts.Cancel();
        });
        Assert.ThrowsAny<OperationCanceledException>(() => Run(Quick, progress, cts.Token));
        Assert.Equal(Enumerable.Range(1, reports.Count), reports.Select(r => r.Done));
        // 3 trunks, then the weak model of seed 0, then round 1.
        Assert.Equal(5, reports.Count);
        Assert.All(reports, r => Assert.Equal(GapAnnealing.ProtocolName, r.Protocol));
    }

    private sealed class Recorder(Action<ProtocolProgress> report) : IProgress<ProtocolProgress>
    {
        public void Report(ProtocolProgress value) => report(value);
    }

    public static TheoryData<GapAnnealingOptions, string> InvalidOptions => new()
    {
        { new() { Ladder = [new(8, 1)] }, nameof(GapAnnealingOptions.Ladder) },
        { new() { Ladder = [new(8, 1), new(8, 1)] }, nameof(GapAnnealingOptions.Ladder) },
        { new() { Ladder = [new(8, 1), new(8, 0)] }, nameof(GapAnnealingOptions.Ladder) },
        { new() { TrainSize = 3 }, nameof(GapAnnealingOptions.TrainSize) },
        { new() { ProbeSize = 9 }, nameof(GapAnnealingOptions.ProbeSize) },
        { new() { TestSize = 9 }, nameof(GapAnnealingOptions.TestSize) },
        { new() { Seeds = [] }, nameof(GapAnnealingOptions.Seeds) },
        { new() { Seeds = [2, 2] }, nameof(GapAnnealingOptions.Seeds) },
        { new() { CompetenceLoss = "bogus" }, nameof(GapAnnealingOptions.CompetenceLoss) },
        { new() { StepsPerRound = 0 }, nameof(GapAnnealingOptions.StepsPerRound) },
        { new() { LearningRate = -1 }, nameof(GapAnnealingOptions.LearningRate) },
        { new() { BatchSize = 0 }, nameof(GapAnnealingOptions.BatchSize) },
        { new() { Schedule = GapSchedule.Stride(0) }, nameof(GapAnnealingOptions.Schedule) },
        { new() { Schedule = GapSchedule.MinimumCapabilityGap(1.5) }, nameof(GapAnnealingOptions.Schedule) },
        { new() { Schedule = new GapSchedule { Kind = (GapScheduleKind)7 } }, nameof(GapAnnealingOptions.Schedule) },
        { new() { Acceptance = (AcceptanceRule)9 }, nameof(GapAnnealingOptions.Acceptance) },
        { new() { AcceptanceMargin = -0.01 }, nameof(GapAnnealingOptions.AcceptanceMargin) },
        { new() { AcceptanceMargin = double.NaN }, nameof(GapAnnealingOptions.AcceptanceMargin) },
        { new() { CapabilityFolds = 1 }, nameof(GapAnnealingOptions.CapabilityFolds) },
        { new() { ProbeSize = 10, CapabilityFolds = 11 }, nameof(GapAnnealingOptions.CapabilityFolds) },
        { new() { CapabilitySteps = 0 }, nameof(GapAnnealingOptions.CapabilitySteps) },
        { new() { BootstrapResamples = 0 }, nameof(GapAnnealingOptions.BootstrapResamples) },
        { new() { ConfidenceLevel = 0 }, nameof(GapAnnealingOptions.ConfidenceLevel) },
        { new() { Device = "" }, nameof(GapAnnealingOptions.Device) },
        { new() { Task = new RepresentationTaskOptions { PretrainSteps = 0 } }, nameof(RepresentationTaskOptions.PretrainSteps) },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Invalid_options_throw_at_construction_naming_the_option(GapAnnealingOptions options, string option)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new GapAnnealing(options));
        Assert.Equal(option, error.ParamName);
        Assert.Contains(option, error.Message);
    }

    [Fact]
    public void The_defaults_are_valid_and_climb_the_five_size_ladder_one_size_at_a_time()
    {
        var protocol = new GapAnnealing();
        Assert.Equal(new[] { "w8-d1", "w16-d1", "w32-d2", "w64-d3", "w128-d4" }, protocol.Options.Ladder.Select(t => t.Name));
        Assert.Equal(GapScheduleKind.LadderSteps, protocol.Options.Schedule.Kind);
        Assert.Equal(1, protocol.Options.Schedule.LadderSteps);
        Assert.Equal(AcceptanceRule.Margin, protocol.Options.Acceptance);
    }
}
