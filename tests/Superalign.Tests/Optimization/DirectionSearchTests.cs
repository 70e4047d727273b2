using FsCheck;
using FsCheck.Fluent;
using Superalign.Data;
using Superalign.Objectives;
using Superalign.Optimization;
using Superalign.Tests.Infrastructure;
using Superalign.Tests.Experiments.Protocols;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Optimization;

/// <summary>
/// Search over learning directions: the choice rule on hand cases and FsCheck properties, then the optimizer's search
/// step against plain steps replayed here (bit for bit) and probe losses computed here.
/// </summary>
public sealed class DirectionSearchTests : IDisposable
{
    private const int F = 6, C = 3, N = 96;

    private readonly IDisposable _threads = TorchThreads.Single();

    public void Dispose() => _threads.Dispose();

    // ---------------------------------------------------------------- the choice rule, by hand

    private static DirectionVerdict Choose(double c0, double f0, (double, double)[] after, DirectionChoice choice = DirectionChoice.ParetoFirst,
        double pc = 1, double pf = 1) => DirectionSearchRule.Choose(c0, f0, after, choice, pc, pf);

    [Fact]
    public void Scores_are_the_preference_weighted_relative_changes()
    {
        // Before (2, 0.5). A: (1.5, 0.6) → −0.5/2 + 0.1/0.5 = −0.05; B: (2.2, 0.25) → 0.1 − 0.5 = −0.4.
        var v = Choose(2, 0.5, [(1.5, 0.6), (2.2, 0.25)]);
        Assert.Equal(-0.05, v.Scores[0], 12);
        Assert.Equal(-0.4, v.Scores[1], 12);
        // π = (3, 0.5): A → 3·(−0.25) + 0.5·0.2 = −0.65; B → 3·0.1 + 0.5·(−0.5) = 0.05.
        v = Choose(2, 0.5, [(1.5, 0.6), (2.2, 0.25)], pc: 3, pf: 0.5);
        Assert.Equal(-0.65, v.Scores[0], 12);
        Assert.Equal(0.05, v.Scores[1], 12);
        Assert.Equal(0, v.Index);
        // Negative losses (a DPO-style objective may go below zero): the change is relative to |L|.
        v = Choose(-2, 1, [(-3, 1)]);
        Assert.Equal(-0.5, v.Scores[0], 12);
    }

    [Fact]
    public void ParetoFirst_prefers_a_pareto_improvement_to_a_better_scalarized_score()
    {
        // A: (0.5, 2.2) → −0.5 + 0.1 = −0.4, raises conformity loss; B: (0.9, 1.9) → −0.1 − 0.05 = −0.15, lowers both.
        (double, double)[] after = [(0.5, 2.2), (0.9, 1.9)];
        var pareto = Choose(1, 2, after);
        Assert.Equal(1, pareto.Index);
        Assert.True(pareto.ParetoImprovement);
        var scalarized = Choose(1, 2, after, DirectionChoice.Scalarized);
        Assert.Equal(0, scalarized.Index);
        Assert.False(scalarized.ParetoImprovement);
    }

    [Fact]
    public void ParetoFirst_takes_the_best_score_among_pareto_improvements_and_counts_no_change_as_one()
    {
        // A: no change (Pareto, score 0); B: (0.8, 2.0) → −0.2 (Pareto); C: (0.1, 3) → −0.9 + 0.5 = −0.4 (not Pareto).
        var v = Choose(1, 2, [(1, 2), (0.8, 2.0), (0.1, 3)]);
        Assert.Equal(1, v.Index);
        Assert.True(v.ParetoImprovement);
    }

    [Fact]
    public void Without_a_pareto_improvement_the_lowest_score_wins()
    {
        // A: (1.2, 1.0) → 0.2 − 0.5 = −0.3; B: (0.5, 2.5) → −0.5 + 0.25 = −0.25; C: (1.1, 2.1) → 0.15.
        var v = Choose(1, 2, [(1.2, 1.0), (0.5, 2.5), (1.1, 2.1)]);
        Assert.Equal(0, v.Index);
        Assert.False(v.ParetoImprovement);
    }

    [Fact]
    public void Ties_go_to_the_earlier_candidate()
    {
        Assert.Equal(0, Choose(1, 1, [(0.5, 1), (1, 0.5)]).Index);
        Assert.Equal(1, Choose(1, 1, [(1.5, 1), (0.5, 1), (1, 0.5)]).Index);
        Assert.Equal(0, Choose(1, 1, [(2, 2), (2, 2)], DirectionChoice.Scalarized).Index);
    }

    [Fact]
    public void Non_finite_probe_losses_score_infinity_and_lose_to_any_finite_candidate()
    {
        var v = Choose(1, 1, [(double.NaN, 0.1), (2, 2), (0.1, double.PositiveInfinity)]);
        Assert.Equal(1, v.Index);
        Assert.True(double.IsPositiveInfinity(v.Scores[0]));
        Assert.True(double.IsPositiveInfinity(v.Scores[2]));
        Assert.False(v.ParetoImprovement);
        // All non-finite: the first, with an infinite score (the optimizer turns that into an error).
        Assert.True(double.IsPositiveInfinity(Choose(1, 1, [(double.NaN, 0), (0, double.NaN)]).Scores[0]));
    }

    [Fact]
    public void A_zero_preference_ignores_that_objective()
    {
        // π_f = 0: only the competence change counts, even an enormous conformity rise.
        var v = Choose(1, 1, [(0.9, 1e9), (0.95, 0.0)], DirectionChoice.Scalarized, pc: 1, pf: 0);
        Assert.Equal(0, v.Index);
        v = Choose(1, 1, [(0.9, 1e9), (0.95, 0.0)], DirectionChoice.Scalarized, pc: 0, pf: 1);
        Assert.Equal(1, v.Index);
    }

    private static readonly Config Config = Config.QuickThrowOnFailure.WithMaxTest(300);

    /// <summary>Before-losses in [0.1, 5] and 2..6 candidates whose losses are within ±50% of them (from integers).</summary>
    private static readonly Arbitrary<(double C0, double F0, (double, double)[] After, double Pc, double Pf)> Cases =
        (from c0 in Gen.Choose(10, 500)
         from f0 in Gen.Choose(10, 500)
         from n in Gen.Choose(2, 6)
         from dcs in Gen.Choose(-50, 50).ArrayOf(n)
         from dfs in Gen.Choose(-50, 50).ArrayOf(n)
         from pc in Gen.Choose(0, 4)
         from pf in Gen.Choose(1, 4)
         select (c0 / 100.0, f0 / 100.0,
             dcs.Zip(dfs, (a, b) => (c0 / 100.0 * (1 + a / 100.0), f0 / 100.0 * (1 + b / 100.0))).ToArray(), pc / 2.0, pf / 2.0)).ToArbitrary();

    [Fact]
    public void The_winner_satisfies_the_rule_against_every_other_candidate()
    {
        Check.One(Config, Prop.ForAll(Cases, x =>
        {
            foreach (var choice in new[] { DirectionChoice.ParetoFirst, DirectionChoice.Scalarized })
            {
                var v = DirectionSearchRule.Choose(x.C0, x.F0, x.After, choice, x.Pc, x.Pf);
                // The score, recomputed here as π·(Δ/L) term by term: (π·Δ)/L rounds differently, and on exact ties
                // (e.g. −0.29 − 0.19 against −0.46 − 0.02) the tie-break below would then compare rounding noise.
                double Score((double C, double F) a) => x.Pc * ((a.C - x.C0) / x.C0) + x.Pf * ((a.F - x.F0) / x.F0);
                bool Pareto((double C, double F) a) => a.C <= x.C0 && a.F <= x.F0;
                for (int i = 0; i < x.After.Length; i++)
                    if (Math.Abs(v.Scores[i] - Score(x.After[i])) > 1e-12) throw new Exception($"score {i}: {v.Scores[i]} vs {Score(x.After[i])}");
                var winner = x.After[v.Index];
                if (v.ParetoImprovement != Pareto(winner)) throw new Exception("ParetoImprovement flag is wrong");
                bool anyPareto = x.After.Any(Pareto);
                if (choice == DirectionChoice.ParetoFirst && anyPareto && !Pareto(winner)) throw new Exception("a Pareto improvement existed but lost");
                for (int i = 0; i < x.After.Length; i++)
                {
                    bool rival = choice == DirectionChoice.Scalarized || !anyPareto || Pareto(x.After[i]);
                    if (rival && (Score(x.After[i]) < Score(winner) || (Score(x.After[i]) == Score(winner) && i < v.Index)))
                        throw new Exception($"candidate {i} beats the winner {v.Index}");
                }
                // With both preferences > 0 no candidate dominates the winner (lower on one loss, not higher on the other).
                if (x.Pc > 0 && x.After.Any(a => a.Item1 <= winner.Item1 && a.Item2 <= winner.Item2 && (a.Item1 < winner.Item1 || a.Item2 < winner.Item2)))
                    throw new Exception("the winner is dominated");
            }
            return true;
        }));
    }

    // ---------------------------------------------------------------- the optimizer's search step

    /// <summary>
    /// Rows [<paramref name="start"/>, start + N) of one seeded toy task: labels from its linear rule, and class 0
    /// preferred to class 2 for every input (a partial conflict with the labels).
    /// </summary>
    private static (SupervisedDataset Sup, PreferenceDataset Pref) Data(long seed, int start, IStudent reference)
    {
        var (x, y) = ToyData.Classification(2 * N, F, C, seed);
        (x, y) = (x.narrow(0, start, N), y.narrow(0, start, N));
        var pref = PreferenceDataset.ForClassification(x, zeros(N, dtype: ScalarType.Int64), full(N, 2L, dtype: ScalarType.Int64));
        return (SupervisedDataset.ForClassification(x, y), pref.WithReferenceLogProbs(reference));
    }

    private sealed class Fixture : IDisposable
    {
        public Fixture(long seed = 5)
        {
            Reference = new LinearTestStudent(F, C, seed: seed + 50);
            // Training rows and held-out probe rows of the same task.
            (Sup, Pref) = Data(seed, 0, Reference);
            (ProbeSup, ProbePref) = Data(seed, N, Reference);
        }

        public LinearTestStudent Reference { get; }
        public SupervisedDataset Sup { get; }
        public PreferenceDataset Pref { get; }
        public SupervisedDataset ProbeSup { get; }
        public PreferenceDataset ProbePref { get; }

        public DirectionSearchOptions Search(params DirectionCandidate[] candidates) => new()
        {
            Candidates = candidates,
            // One batch of every probe row: each search scores on the same probes.
            CompetenceProbes = ProbeSup.Batches(N, shuffle: false),
            ConformityProbes = ProbePref.Batches(N, shuffle: false),
        };

        public IBatchSource<SupervisedBatch> SupBatches() => Sup.Batches(16, shuffle: false);

        public IBatchSource<PreferenceBatch> PrefBatches() => Pref.Batches(16, shuffle: false);

        public void Dispose() => Reference.Dispose();
    }

    private static double CompetenceLossOf(IStudent s, SupervisedBatch b)
    {
        using var _ = no_grad();
        return new TestCrossEntropy().Loss(new CompetenceInput(s.Logits(b.Responses), b.Responses.Targets, b.Responses.Mask, null, default)).ToDouble();
    }

    private static double ConformityLossOf(IStudent s, PreferenceBatch b)
    {
        using var _ = no_grad();
        var (pc, pr) = LogProbs.Pair(s, b);
        return new TestDpo().Compute(new PreferenceLogProbs(pc, pr, b.ReferenceChosen, b.ReferenceRejected, b.Chosen.Lengths(), b.Rejected.Lengths())).Loss.ToDouble();
    }

    /// <summary>Probe losses over every probe row (the batch each search scores on).</summary>
    private static (double C, double F) ProbeLosses(IStudent s, Fixture fx) =>
        (CompetenceLossOf(s, fx.ProbeSup.Batches(N, shuffle: false).Next()), ConformityLossOf(s, fx.ProbePref.Batches(N, shuffle: false).Next()));

    private static float[] Weights(IStudent s) => s.Parameters().SelectMany(p => p.detach().cpu().data<float>().ToArray()).ToArray();

    private sealed class FixedPlan(PhasePlan plan) : IAlternationSchedule
    {
        public PhasePlan Plan(long step, long totalSteps) => plan;
    }

    /// <summary>
    /// Replays <paramref name="steps"/> plain steps with <paramref name="candidate"/>'s plan on a fresh student from
    /// the same seed, with the same options otherwise; returns the weights.
    /// </summary>
    private static float[] Replay(Fixture fx, DirectionCandidate candidate, AlternatingOptimizerOptions options, int steps)
    {
        using var student = new LinearTestStudent(F, C, seed: 7);
        using var optimizer = new AlternatingOptimizer(student, new TestCrossEntropy(), new TestDpo(),
            options with { DirectionSearch = null, Schedule = new FixedPlan(candidate.Plan) });
        var (sup, pref) = (fx.SupBatches(), fx.PrefBatches());
        for (int i = 0; i < steps; i++) optimizer.Step(sup, pref);
        return Weights(student);
    }

    public static TheoryData<string[], double, double, string> Cases3 => new()
    {
        // Candidates, π_c, π_f, the winner expected on this toy task (asserted, so that each kind is exercised).
        { new[] { "competence", "conformity" }, 1.0, 0.0, "competence" },
        { new[] { "competence", "conformity" }, 0.0, 1.0, "conformity" },
        { new[] { "competence", "conformity", "joint 1:1", "joint 2:0.5" }, 1.0, 1.0, "joint 1:1" },
        { new[] { "competence", "joint 2:0.5" }, 0.1, 1.0, "joint 2:0.5" },
    };

    private static DirectionCandidate Named(string name) => name switch
    {
        "competence" => DirectionCandidate.Competence,
        "conformity" => DirectionCandidate.Conformity,
        "joint 1:1" => DirectionCandidate.Joint(1, 1),
        "joint 2:0.5" => DirectionCandidate.Joint(2, 0.5),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Cases3))]
    public void Search_then_plain_steps_equal_plain_steps_with_the_winners_plan_bit_for_bit(string[] names, double pc, double pf, string expected)
    {
        using var scope = NewDisposeScope();
        using var fx = new Fixture();
        var candidates = names.Select(Named).ToArray();
        bool joint = Named(expected).Phase == TrainingPhase.Joint;
        // A joint plain step forms the weighted sum from separate gradients only with the diagnostics on; the search
        // step always does, so the comparison turns them on for joint winners.
        var options = new AlternatingOptimizerOptions
        {
            TotalSteps = 10, LearningRate = 0.05, MaxGradientNorm = 0.5, ConflictDiagnostics = joint,
            DirectionSearch = fx.Search(candidates) with { Every = 3, CompetencePreference = pc, ConformityPreference = pf },
        };
        using var student = new LinearTestStudent(F, C, seed: 7);
        var before = ProbeLosses(student, fx);
        using var optimizer = new AlternatingOptimizer(student, new TestCrossEntropy(), new TestDpo(), options);
        var (sup, pref) = (fx.SupBatches(), fx.PrefBatches());
        var first = optimizer.Step(sup, pref);
        string winner = candidates[(int)first.Metric(MetricNames.SearchWinner)].Name;
        Assert.Equal(expected, winner);
        Assert.Equal(Named(expected).Phase, first.Phase);

        // The reported probe losses and the winner's changes, computed here on the student before and after.
        var afterFirst = ProbeLosses(student, fx);
        Assert.Equal(before.C, first.Metric(MetricNames.SearchProbeCompetence), 5);
        Assert.Equal(before.F, first.Metric(MetricNames.SearchProbeConformity), 5);
        Assert.Equal(afterFirst.C - before.C, first.Metric(MetricNames.SearchCompetenceChange), 5);
        Assert.Equal(afterFirst.F - before.F, first.Metric(MetricNames.SearchConformityChange), 5);
        Assert.Equal(afterFirst.C <= before.C && afterFirst.F <= before.F ? 1.0 : 0.0, first.Metric(MetricNames.SearchParetoImprovement));

        // Two plain steps with the winner's plan follow (Every = 3); after each, the weights equal a replay's bit for bit,
        // which also shows that the trials left the moments and the step count as they were.
        Assert.Equal(Replay(fx, Named(expected), options, 1), Weights(student));
        for (int k = 2; k <= 3; k++)
        {
            var report = optimizer.Step(sup, pref);
            Assert.Equal(Named(expected).Phase, report.Phase);
            Assert.False(report.Metrics.ContainsKey(MetricNames.SearchWinner));
            Assert.Equal(Replay(fx, Named(expected), options, k), Weights(student));
        }
        Assert.True(optimizer.Step(sup, pref).Metrics.ContainsKey(MetricNames.SearchWinner), "step 3 searches again");
    }

    /// <summary>The rule, written again here: relative changes, Pareto improvements first, ties to the first.</summary>
    private static int ExpectedWinner((double C, double F) before, IReadOnlyList<(double C, double F)> after, double pc, double pf)
    {
        var score = after.Select(a => pc * (a.C - before.C) / Math.Abs(before.C) + pf * (a.F - before.F) / Math.Abs(before.F)).ToArray();
        var pareto = after.Select(a => a.C <= before.C && a.F <= before.F).ToArray();
        var pool = Enumerable.Range(0, after.Count).Where(i => !pareto.Any(p => p) || pareto[i]).ToList();
        return pool.OrderBy(i => score[i]).ThenBy(i => i).First();
    }

    [Theory]
    [InlineData(1.0, 1.0, 0.05)]
    [InlineData(1.0, 0.2, 0.05)]
    [InlineData(0.3, 1.0, 0.2)]
    [InlineData(1.0, 1.0, 0.5)]
    public void The_winner_is_the_candidate_the_rule_picks_from_independently_replayed_updates(double pc, double pf, double lr)
    {
        using var scope = NewDisposeScope();
        using var fx = new Fixture(seed: 8);
        var candidates = new[] { DirectionCandidate.Competence, DirectionCandidate.Conformity, DirectionCandidate.Joint(1, 1), DirectionCandidate.Joint(0.3, 2) };
        var options = new AlternatingOptimizerOptions
        {
            TotalSteps = 4, LearningRate = lr, ConflictDiagnostics = true,
            DirectionSearch = fx.Search(candidates) with { CompetencePreference = pc, ConformityPreference = pf },
        };
        // Each candidate's update, replayed as a plain step on a fresh student, then scored on the probes here.
        var after = new List<(double C, double F)>();
        foreach (var candidate in candidates)
        {
            using var replay = new LinearTestStudent(F, C, seed: 7);
            using var plain = new AlternatingOptimizer(replay, new TestCrossEntropy(), new TestDpo(),
                options with { DirectionSearch = null, Schedule = new FixedPlan(candidate.Plan) });
            plain.Step(fx.SupBatches(), fx.PrefBatches());
            after.Add(ProbeLosses(replay, fx));
        }
        using var student = new LinearTestStudent(F, C, seed: 7);
        var before = ProbeLosses(student, fx);
        using var optimizer = new AlternatingOptimizer(student, new TestCrossEntropy(), new TestDpo(), options);
        var report = optimizer.Step(fx.SupBatches(), fx.PrefBatches());
        int expected = ExpectedWinner(before, after, pc, pf);
        Assert.Equal(expected, (int)report.Metric(MetricNames.SearchWinner));
        Assert.Equal(after[expected].C - before.C, report.Metric(MetricNames.SearchCompetenceChange), 5);
        Assert.Equal(after[expected].F - before.F, report.Metric(MetricNames.SearchConformityChange), 5);
    }

    [Fact]
    public void Searches_run_every_k_steps_and_the_statistics_count_wins_and_time()
    {
        using var scope = NewDisposeScope();
        using var fx = new Fixture();
        var options = new AlternatingOptimizerOptions
        {
            TotalSteps = 7, LearningRate = 0.05,
            DirectionSearch = fx.Search(DirectionCandidate.Competence, DirectionCandidate.Conformity, DirectionCandidate.Joint(1, 1)) with { Every = 3 },
        };
        using var student = new LinearTestStudent(F, C, seed: 7);
        using var optimizer = new AlternatingOptimizer(student, new TestCrossEntropy(), new TestDpo(), options);
        var reports = optimizer.Train(fx.SupBatches(), fx.PrefBatches());
        Assert.Equal(7, reports.Count);
        var searched = reports.Where(r => r.Metrics.ContainsKey(MetricNames.SearchWinner)).Select(r => r.Step).ToArray();
        Assert.Equal(new long[] { 0, 3, 6 }, searched);
        var winners = new List<string>();
        foreach (var r in reports)
        {
            if (r.Metrics.ContainsKey(MetricNames.SearchWinner))
            {
                winners.Add(options.DirectionSearch!.Candidates[(int)r.Metric(MetricNames.SearchWinner)].Name);
                // A search step computes both losses and reports both.
                Assert.NotNull(r.CompetenceLoss);
                Assert.NotNull(r.ConformityLoss);
            }
            else
            {
                Assert.Equal(options.DirectionSearch!.Candidates.Single(c => c.Name == winners[^1]).Phase, r.Phase);
            }
        }
        var stats = optimizer.DirectionSearchStatistics!;
        Assert.Equal(3, stats.Searches);
        Assert.Equal(4, stats.PlainSteps);
        foreach (var c in options.DirectionSearch!.Candidates) Assert.Equal(winners.Count(w => w == c.Name), stats.Wins[c.Name]);
        Assert.Equal(reports.Count(r => r.Metric(MetricNames.SearchParetoImprovement) == 1), stats.ParetoImprovements);
        Assert.Equal(reports.Where(r => r.Metrics.ContainsKey(MetricNames.SearchWinner)).Sum(r => r.Elapsed.TotalSeconds), stats.SearchStepSeconds, 9);
        Assert.Equal(reports.Where(r => !r.Metrics.ContainsKey(MetricNames.SearchWinner)).Sum(r => r.Elapsed.TotalSeconds), stats.PlainStepSeconds, 9);
        Assert.True(stats.SearchStepCostRatio > 0);
        using var plain = new AlternatingOptimizer(student, new TestCrossEntropy(), new TestDpo(), options with { DirectionSearch = null });
        Assert.Null(plain.DirectionSearchStatistics);
    }

    /// <summary>A competence objective that throws on a chosen call (counting every loss it computes).</summary>
    private sealed class FailingObjective(int failOnCall) : ICompetenceObjective
    {
        private readonly TestCrossEntropy _inner = new();
        public int Calls { get; private set; }
        public string Name => "failing";
        public bool RequiresSoftTargets => false;

        public Tensor Loss(CompetenceInput input) =>
            ++Calls == failOnCall ? throw new InvalidOperationException("boom") : _inner.Loss(input);
    }

    [Theory]
    [InlineData(2)] // the probe loss before the trials
    [InlineData(4)] // the second candidate's probe loss, after its trial update
    public void A_failure_inside_a_search_leaves_the_weights_and_optimizer_state_as_they_were(int failOnCall)
    {
        using var scope = NewDisposeScope();
        using var fx = new Fixture();
        var options = new AlternatingOptimizerOptions
        {
            TotalSteps = 4, LearningRate = 0.05, ConflictDiagnostics = true,
            DirectionSearch = fx.Search(DirectionCandidate.Competence, DirectionCandidate.Conformity, DirectionCandidate.Joint(1, 1)),
        };
        using var student = new LinearTestStudent(F, C, seed: 7);
        var initial = Weights(student);
        var failing = new FailingObjective(failOnCall);
        using var optimizer = new AlternatingOptimizer(student, failing, new TestDpo(), options);
        // Call 1 is the training batch's loss, call 2 the probe loss before any trial, calls 3.. one per trial.
        Assert.Throws<InvalidOperationException>(() => optimizer.Step(fx.SupBatches(), fx.PrefBatches()));
        Assert.Equal(initial, Weights(student));
        Assert.Equal(0, optimizer.StepsDone);
        Assert.Equal(0, optimizer.DirectionSearchStatistics!.Searches);

        // The retry (the objective no longer fails) equals a fresh optimizer's first step: moments and count untouched.
        var retry = optimizer.Step(fx.SupBatches(), fx.PrefBatches());
        using var fresh = new LinearTestStudent(F, C, seed: 7);
        using var freshOptimizer = new AlternatingOptimizer(fresh, new TestCrossEntropy(), new TestDpo(), options with
        {
            DirectionSearch = fx.Search(DirectionCandidate.Competence, DirectionCandidate.Conformity, DirectionCandidate.Joint(1, 1)),
        });
        var expected = freshOptimizer.Step(fx.SupBatches(), fx.PrefBatches());
        Assert.Equal(expected.Metric(MetricNames.SearchWinner), retry.Metric(MetricNames.SearchWinner));
        Assert.Equal(Weights(fresh), Weights(student));
        optimizer.Step(fx.SupBatches(), fx.PrefBatches());
        freshOptimizer.Step(fx.SupBatches(), fx.PrefBatches());
        Assert.Equal(Weights(fresh), Weights(student));
    }

    [Fact]
    public void A_non_finite_probe_loss_before_the_trials_throws_and_changes_nothing()
    {
        using var scope = NewDisposeScope();
        using var fx = new Fixture();
        var x = full(8, F, double.NaN, dtype: ScalarType.Float32);
        var nanProbe = SupervisedDataset.ForClassification(x, zeros(8, dtype: ScalarType.Int64));
        var options = new AlternatingOptimizerOptions
        {
            TotalSteps = 4,
            DirectionSearch = fx.Search(DirectionCandidate.Competence, DirectionCandidate.Conformity) with { CompetenceProbes = nanProbe.Batches(8) },
        };
        using var student = new LinearTestStudent(F, C, seed: 7);
        var initial = Weights(student);
        using var optimizer = new AlternatingOptimizer(student, new TestCrossEntropy(), new TestDpo(), options);
        var e = Assert.Throws<NonFiniteLossException>(() => optimizer.Step(fx.SupBatches(), fx.PrefBatches()));
        Assert.Contains("competence probe loss", e.Message);
        Assert.Equal(initial, Weights(student));
    }

    /// <summary>A non-static reference that counts its syncs and hands back the batch's cached log-probs.</summary>
    private sealed class CountingReference : IReferencePolicy
    {
        public List<long> Syncs { get; } = new();
        public bool IsStatic => false;
        public (Tensor Chosen, Tensor Rejected) LogProbs(PreferenceBatch batch) => (batch.ReferenceChosen!, batch.ReferenceRejected!);
        public void AfterUpdate(IStudent policy, long updates) => Syncs.Add(updates);
        public void Dispose() { }
    }

    [Fact]
    public void Trial_updates_do_not_reach_the_reference_policy()
    {
        using var scope = NewDisposeScope();
        using var fx = new Fixture();
        var options = new AlternatingOptimizerOptions
        {
            TotalSteps = 4, DirectionSearch = fx.Search(DirectionCandidate.Competence, DirectionCandidate.Conformity, DirectionCandidate.Joint(1, 1)) with { Every = 2 },
        };
        using var student = new LinearTestStudent(F, C, seed: 7);
        var reference = new CountingReference();
        using var optimizer = new AlternatingOptimizer(student, new TestCrossEntropy(), new TestDpo(), options, reference);
        optimizer.Train(fx.SupBatches(), fx.PrefBatches());
        Assert.Equal(new long[] { 1, 2, 3, 4 }, reference.Syncs);
    }

    // ---------------------------------------------------------------- validation

    public static TheoryData<string, string> BadOptions => new()
    {
        { "one candidate", nameof(DirectionSearchOptions.Candidates) },
        { "duplicate names", nameof(DirectionSearchOptions.Candidates) },
        { "negative weight", nameof(DirectionSearchOptions.Candidates) },
        { "zero weights", nameof(DirectionSearchOptions.Candidates) },
        { "every 0", nameof(DirectionSearchOptions.Every) },
        { "no competence probes", nameof(DirectionSearchOptions.CompetenceProbes) },
        { "no conformity probes", nameof(DirectionSearchOptions.ConformityProbes) },
        { "probe batches 0", nameof(DirectionSearchOptions.ProbeBatches) },
        { "preference NaN", nameof(DirectionSearchOptions.CompetencePreference) },
        { "preferences 0", nameof(DirectionSearchOptions.ConformityPreference) },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void Invalid_search_options_name_the_option(string what, string parameter)
    {
        using var scope = NewDisposeScope();
        using var fx = new Fixture();
        var good = fx.Search(DirectionCandidate.Competence, DirectionCandidate.Conformity);
        var bad = what switch
        {
            "one candidate" => good with { Candidates = [DirectionCandidate.Competence] },
            "duplicate names" => good with { Candidates = [DirectionCandidate.Competence, new DirectionCandidate("competence", 0, 1)] },
            "negative weight" => good with { Candidates = [DirectionCandidate.Competence, new DirectionCandidate("x", -1, 1)] },
            "zero weights" => good with { Candidates = [DirectionCandidate.Competence, new DirectionCandidate("x", 0, 0)] },
            "every 0" => good with { Every = 0 },
            "no competence probes" => good with { CompetenceProbes = null },
            "no conformity probes" => good with { ConformityProbes = null },
            "probe batches 0" => good with { ProbeBatches = 0 },
            "preference NaN" => good with { CompetencePreference = double.NaN },
            _ => good with { CompetencePreference = 0, ConformityPreference = 0 },
        };
        using var student = new LinearTestStudent(F, C, seed: 7);
        var e = Assert.ThrowsAny<ArgumentException>(() =>
            new AlternatingOptimizer(student, new TestCrossEntropy(), new TestDpo(), new AlternatingOptimizerOptions { DirectionSearch = bad }));
        Assert.Equal(parameter, e.ParamName);
        Assert.Contains("DirectionSearch", e.Message);
    }

    [Fact]
    public void The_search_needs_both_objectives_both_sources_and_the_flat_buffer()
    {
        using var scope = NewDisposeScope();
        using var fx = new Fixture();
        var options = new AlternatingOptimizerOptions { DirectionSearch = fx.Search(DirectionCandidate.Competence, DirectionCandidate.Conformity) };
        using var student = new LinearTestStudent(F, C, seed: 7);
        Assert.Equal("conformity", Assert.Throws<ArgumentException>(() => new AlternatingOptimizer(student, new TestCrossEntropy(), null, options)).ParamName);
        Assert.Equal("competence", Assert.Throws<ArgumentException>(() => new AlternatingOptimizer(student, null, new TestDpo(), options)).ParamName);
        var e = Assert.Throws<ArgumentException>(() => new AlternatingOptimizer(student, new TestCrossEntropy(), new TestDpo(), options with { FlatParameterBuffer = false }));
        Assert.Contains("FlatParameterBuffer", e.Message);
        using var optimizer = new AlternatingOptimizer(student, new TestCrossEntropy(), new TestDpo(), options);
        var missing = Assert.Throws<InvalidOperationException>(() => optimizer.Step(fx.SupBatches(), null));
        Assert.Contains("direction-search step", missing.Message);
    }
}
