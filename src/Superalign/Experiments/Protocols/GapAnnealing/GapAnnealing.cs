using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Superalign.Experiments.Metrics;
using Superalign.Objectives.Competence;
using Superalign.Experiments.Tasks;
using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

/// <summary>
/// Gap annealing (the co-optimization framework's first principle): a chain of teacher–student rounds up a ladder of
/// model sizes, each student trained on the soft labels of the previous <i>accepted</i> student, compared with direct
/// weak-to-strong supervision of the largest size at the same training budget.
/// </summary>
/// <remarks>
/// <para>Per seed, on the built-in <see cref="RepresentationTask"/> (linear probes over frozen pretrained trunks):
/// split the training set 50/50 into A and B (as <see cref="WeakToStrong"/> does); train the weak model (rung 0) on A
/// with ground truth; then, round after round, pick the next size with the <see cref="GapSchedule"/>, train a student
/// of that size on B with the current supervisor's soft labels, score it on a separate labelled <b>probe</b> set, and
/// let it replace its supervisor only when the <see cref="AcceptanceRule"/> says its probe accuracy beats the
/// supervisor's; otherwise the previous supervisor keeps supervising the next size. The chain ends with a student of
/// the largest size.</para>
/// <para><b>Budget.</b> Each round trains for <see cref="GapAnnealingOptions.StepsPerRound"/> updates; the direct
/// student (the largest size on the weak model's labels) trains for the chain's total, rounds × steps per round, with
/// the same batch size, so both arms see the same number of labelled examples. The weak model is shared and not
/// counted. Updates are counted, not FLOPs: the chain's early rounds train smaller models.</para>
/// <para>Reports the final chained and direct students' test accuracy, their PGR w.r.t. the same weak model and
/// ceiling, the paired difference (bootstrap over test examples per seed, t-interval over seeds), accepted and
/// rejected rounds, and the accuracy of each round's student.</para>
/// </remarks>
public sealed class GapAnnealing : Protocol<GapAnnealingOptions, GapAnnealingResult>
{
    /// <summary>The protocol's name in progress reports and the catalog.</summary>
    public const string ProtocolName = "gap-annealing";

    // The task's sample streams (not seeds): training 1, test 2 (RepresentationRun), and per seed the
    // probe set 3 + 16·(seed + 1).
    private const long ProbeStream = 3;

    /// <summary>Creates the protocol; validates the options.</summary>
    /// <param name="options">Options (validated here); null takes the defaults.</param>
    /// <param name="loggerFactory">Optional logging: one line per round and per seed.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    public GapAnnealing(GapAnnealingOptions? options = null, ILoggerFactory? loggerFactory = null)
        : base(ProtocolName, options ?? new GapAnnealingOptions(), loggerFactory)
    {
    }

    /// <inheritdoc />
    public override GapAnnealingResult Run(IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Run(ProtocolRun.None, progress, cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// One unit per seed (<c>seed-N</c>): the seed's row (its chain, direct students and ceilings). The ladder's trunks
    /// are pretrained by every run, units read back or not (they are deterministic, and their diagnostics are part of
    /// the result).
    /// </remarks>
    public override IReadOnlyList<string> Units => Options.Seeds.Select(SeedUnit).ToList();

    /// <inheritdoc />
    public override GapAnnealingResult Run(ProtocolRun run, IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var watch = Stopwatch.StartNew();
        var o = Options;
        var selected = SelectSeeds(run, o.Seeds);
        var store = OpenStore(run);
        using var representation = new RepresentationRun(o.Task, o.Device, o.TrainSize, o.TestSize);
        var (device, task, train, test) = (representation.Device, representation.Task, representation.Train, representation.Test);
        int perSeed = PlannedStagesPerSeed();
        int total = o.Ladder.Count + perSeed * selected.Count;
        var stages = new StageCounter(Name, progress, total);

        var trunks = ClassifierTraining.PretrainTrunks(task, o.Ladder, stage => stages.Report(stage), Logger, cancellationToken);

        int n = o.TrainSize;
        var seeds = new List<GapAnnealingSeedResult>();
        foreach (int seed in selected)
        {
            cancellationToken.ThrowIfCancellationRequested();
            seeds.Add(RunUnit(store, run, SeedUnit(seed), () => RunSeed(task, train, test, seed, stages, cancellationToken),
                () => stages.Report($"seed {seed}: read back", perSeed)));
        }
        progress?.Report(new ProtocolProgress(ProtocolName, "done", total, total));
        return new GapAnnealingResult(o, selected.ToArray(),
            new GapAnnealingSampleSizes(n, n / 2, n - n / 2, o.ProbeSize, o.TestSize), trunks, seeds, Summarize(seeds), device.ToString(), watch.Elapsed.TotalSeconds);
    }

    /// <summary>Progress stages planned per seed (the capability-gap schedule may run fewer rounds).</summary>
    private int PlannedStagesPerSeed()
    {
        bool capability = Options.Schedule.Kind == GapScheduleKind.CapabilityGap;
        return 1 + (capability ? Options.CapabilityFolds * Options.Ladder.Count : 0) + PlannedRounds() + 2 + Options.Ladder.Count - 1;
    }

    private GapAnnealingSeedResult RunSeed(RepresentationTask task, Data.ClassificationTable train, Data.ClassificationTable test, int seed,
        StageCounter stages, CancellationToken cancellationToken)
    {
        var o = Options;
        int last = o.Ladder.Count - 1;
        bool capability = o.Schedule.Kind == GapScheduleKind.CapabilityGap;
        var objective = CompetenceObjectives.Create(o.CompetenceLoss);
        var testLabels = ClassificationAccuracy.Predictions(test.Labels);
        using var seedScope = NewDisposeScope();
        var owned = new List<IClassifierStudent>();
        GapAnnealingSeedResult seedResult;
        try
        {
            // A fresh probe sample per seed, so that the seeds also vary the probe set's noise.
            var probe = task.Sample(o.ProbeSize, ProbeStream + 16L * (seed + 1L));
            var (xa, ya, xb, yb) = ClassifierTraining.Halves(train, seed);

            IClassifierStudent NewProbe(int rung)
            {
                var model = task.Probe(o.Ladder[rung]);
                owned.Add(model);
                return model;
            }

            // The weak model: rung 0 on A with ground truth.
            var weak = NewProbe(0);
            ClassifierTraining.Train(weak, xa, ya, null, CompetenceObjectives.Create("ce"), o.StepsPerRound, o.LearningRate, o.BatchSize,
                SeedStreams.Mix(seed, 0), cancellationToken);
            stages.Report($"seed {seed}: weak {o.Ladder[0].Name} trained on A");
            var weakProbe = ClassifierTraining.Evaluate(weak, probe.Features, probe.Labels);
            var weakTest = ClassifierTraining.Evaluate(weak, test.Features, test.Labels);

            // Capability of each size, cross-fitted on the probe set (only the capability-gap schedule needs it).
            var capabilities = new List<RungCapability>();
            int capabilitySteps = 0;
            if (capability)
            {
                for (int r = 0; r <= last; r++)
                {
                    var (estimate, steps) = CrossFitted(task, o.Ladder[r], probe, seed, cancellationToken);
                    capabilities.Add(new RungCapability(o.Ladder[r].Name, r, estimate));
                    capabilitySteps += steps;
                    for (int f = 0; f < o.CapabilityFolds; f++) stages.Report($"seed {seed}: capability of {o.Ladder[r].Name}, fold {f + 1}");
                }
            }

            // The chain. The updates of each round are those its optimizer reports, so the budget is measured, not assumed.
            var roundSteps = new Dictionary<int, int>();
            var trace = RunChain(weak, weakProbe.Correct, last, o.Schedule, capability ? capabilities.Select(c => c.Capability).ToArray() : null,
                (supervisor, rung, round) =>
                {
                    var student = NewProbe(rung);
                    using var labelScope = NewDisposeScope();
                    var soft = ClassifierTraining.Probabilities(supervisor, xb);
                    roundSteps[round] = ClassifierTraining.Train(student, xb, soft.argmax(1), soft, objective, o.StepsPerRound, o.LearningRate, o.BatchSize,
                        SeedStreams.Mix(seed, round), cancellationToken);
                    stages.Report($"seed {seed}: round {round}, {o.Ladder[rung].Name} trained on {supervisor.Name}");
                    return student;
                },
                model => ClassifierTraining.Evaluate(model, probe.Features, probe.Labels).Correct,
                (student, supervisor, round) => Decide(student, supervisor, o.Acceptance, o.AcceptanceMargin, o.ConfidenceLevel, o.BootstrapResamples,
                    SeedStreams.Mix(seed, 1000 + round)),
                cancellationToken);
            int chainSteps = roundSteps.Values.Sum();

            // Direct supervision of the largest size by the weak model, at the chain's total budget and at one round's.
            var weakSoft = ClassifierTraining.Probabilities(weak, xb);
            var direct = NewProbe(last);
            int directSteps = ClassifierTraining.Train(direct, xb, weakSoft.argmax(1), weakSoft, objective, chainSteps, o.LearningRate, o.BatchSize,
                SeedStreams.Mix(seed, 500), cancellationToken);
            stages.Report($"seed {seed}: direct {o.Ladder[last].Name} trained on {o.Ladder[0].Name} for {chainSteps} steps");
            var directShort = NewProbe(last);
            ClassifierTraining.Train(directShort, xb, weakSoft.argmax(1), weakSoft, objective, o.StepsPerRound, o.LearningRate, o.BatchSize,
                SeedStreams.Mix(seed, 501), cancellationToken);
            stages.Report($"seed {seed}: direct {o.Ladder[last].Name} trained for {o.StepsPerRound} steps");

            // Ceilings of every student size: B with ground truth.
            var ceilings = new Dictionary<int, ClassifierEvaluation>();
            foreach (int rung in trace.Steps.Select(s => s.StudentRung).Append(last).Distinct().Order())
            {
                var ceiling = NewProbe(rung);
                ClassifierTraining.Train(ceiling, xb, yb, null, CompetenceObjectives.Create("ce"), o.StepsPerRound, o.LearningRate, o.BatchSize,
                    SeedStreams.Mix(seed, 600 + rung), cancellationToken);
                ceilings[rung] = ClassifierTraining.Evaluate(ceiling, test.Features, test.Labels);
                stages.Report($"seed {seed}: ceiling {o.Ladder[rung].Name} trained on B");
            }

            var testCache = new Dictionary<IClassifierStudent, ClassifierEvaluation>(ReferenceEqualityComparer.Instance) { [weak] = weakTest };
            ClassifierEvaluation Test(IClassifierStudent model)
            {
                if (!testCache.TryGetValue(model, out var e)) testCache[model] = e = ClassifierTraining.Evaluate(model, test.Features, test.Labels);
                return e;
            }

            var rounds = trace.Steps.Select(s =>
            {
                var studentTest = Test(s.Student);
                double ceilingAcc = ceilings[s.StudentRung].Accuracy;
                var row = new GapAnnealingRound(s.Round, o.Ladder[s.SupervisorRung].Name, s.SupervisorRung, o.Ladder[s.StudentRung].Name, s.StudentRung,
                    roundSteps[s.Round], s.SupervisorProbeAccuracy, s.StudentProbeAccuracy, s.Decision, Test(s.Supervisor).Accuracy, studentTest.Accuracy,
                    ceilingAcc, PerformanceGapRecovered.Compute(weakTest.Accuracy, studentTest.Accuracy, ceilingAcc).Value);
                Logger.LogInformation("seed {Seed} round {Round}: {Supervisor} -> {Student}: probe {SupProbe:P1} -> {StuProbe:P1} ({Verdict}); test {StuTest:P1}",
                    seed, row.Round, row.Supervisor, row.Student, row.SupervisorProbeAccuracy, row.StudentProbeAccuracy,
                    row.Decision.Accepted ? "accepted" : "rejected", row.StudentTestAccuracy);
                return row;
            }).ToList();

            var chained = Test(trace.Steps[^1].Student);
            var directTest = Test(direct);
            var directShortTest = Test(directShort);
            var ceilingTest = ceilings[last];
            var output = Test(trace.Output);
            seedResult = new GapAnnealingSeedResult(seed, o.Ladder[0].Name, o.Ladder[last].Name, weakTest.Accuracy, weakProbe.Accuracy,
                capabilities, rounds, chainSteps, directSteps, capabilitySteps,
                chained.Accuracy, directTest.Accuracy, directShortTest.Accuracy, ceilingTest.Accuracy,
                PerformanceGapRecovered.Compute(weakTest.Accuracy, chained.Accuracy, ceilingTest.Accuracy).Value,
                PerformanceGapRecovered.Compute(weakTest.Accuracy, directTest.Accuracy, ceilingTest.Accuracy).Value,
                Bootstrap.MeanDifference(chained.Correct, directTest.Correct, o.ConfidenceLevel, o.BootstrapResamples, SeedStreams.Mix(seed, 2000)),
                o.Ladder[trace.OutputRung].Name, output.Accuracy,
                rounds.Count(r => r.Decision.Accepted), rounds.Count(r => !r.Decision.Accepted),
                SupervisorAgreement.WeakErrors(testLabels, weakTest.Predictions, chained.Predictions),
                SupervisorAgreement.WeakErrors(testLabels, weakTest.Predictions, directTest.Predictions));
            Logger.LogInformation("seed {Seed}: weak {Weak:P1}, chained {Chained:P1}, direct {Direct:P1} ({Steps} steps), ceiling {Ceiling:P1}; {Accepted} accepted, {Rejected} rejected",
                seed, seedResult.WeakTestAccuracy, seedResult.ChainedAccuracy, seedResult.DirectAccuracy, chainSteps, seedResult.CeilingAccuracy,
                seedResult.Accepted, seedResult.Rejected);
        }
        finally
        {
            foreach (var model in owned) model.Dispose();
        }
        return seedResult;
    }

    /// <summary>Rounds the schedule will run (an upper bound for the capability-gap schedule), for progress reports.</summary>
    private int PlannedRounds()
    {
        int last = Options.Ladder.Count - 1;
        return Options.Schedule.Kind == GapScheduleKind.LadderSteps ? (last + Options.Schedule.LadderSteps - 1) / Options.Schedule.LadderSteps : last;
    }

    /// <summary>k-fold cross-fitted ground-truth accuracy of a probe on <paramref name="spec"/>, on the probe set.</summary>
    private (double Capability, int Steps) CrossFitted(RepresentationTask task, TrunkSpec spec, Data.ClassificationTable probe, int seed, CancellationToken ct)
    {
        int n = (int)probe.Features.shape[0], k = Options.CapabilityFolds, steps = 0;
        var order = Enumerable.Range(0, n).Select(i => (long)i).ToArray();
        new Random(SeedStreams.Mix(seed, 3000)).Shuffle(order);
        double hits = 0;
        for (int f = 0; f < k; f++)
        {
            using var scope = NewDisposeScope();
            int start = (int)((long)f * n / k), end = (int)((long)(f + 1) * n / k);
            var held = tensor(order[start..end], device: probe.Features.device);
            var fit = tensor(order[..start].Concat(order[end..]).ToArray(), device: probe.Features.device);
            using var model = task.Probe(spec);
            steps += ClassifierTraining.Train(model, probe.Features.index_select(0, fit), probe.Labels.index_select(0, fit), null, CompetenceObjectives.Create("ce"),
                Options.CapabilitySteps, Options.LearningRate, Options.BatchSize, SeedStreams.Mix(seed, 3001 + f), ct);
            hits += ClassifierTraining.Evaluate(model, probe.Features.index_select(0, held), probe.Labels.index_select(0, held)).Correct.Sum();
        }
        return (hits / n, steps);
    }

    /// <summary>
    /// The acceptance rule: whether a student whose per-example probe correctness is <paramref name="student"/>
    /// replaces a supervisor whose correctness on the same probe examples is <paramref name="supervisor"/>.
    /// </summary>
    internal static AcceptanceDecision Decide(double[] student, double[] supervisor, AcceptanceRule rule, double margin, double level, int resamples, int seed)
    {
        var interval = Bootstrap.MeanDifference(student, supervisor, level, resamples, seed);
        double difference = interval.Estimate;
        // Accuracies are ratios of counts: compare with a tolerance, so that 0.72 − 0.70 is not "more than" 0.02.
        const double tolerance = 1e-9;
        string Format(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
        return rule switch
        {
            AcceptanceRule.Always => new AcceptanceDecision(true, difference, interval, "always accepted"),
            AcceptanceRule.Margin => difference > margin + tolerance
                ? new AcceptanceDecision(true, difference, interval, Format($"probe accuracy {difference:+0.0%;-0.0%} over the supervisor > margin {margin:P1}"))
                : new AcceptanceDecision(false, difference, interval, Format($"probe accuracy {difference:+0.0%;-0.0%;0.0%} over the supervisor, not above margin {margin:P1}")),
            AcceptanceRule.BootstrapLowerBound => interval.Lower > margin + tolerance
                ? new AcceptanceDecision(true, difference, interval, Format($"bootstrap lower bound {interval.Lower:+0.0%;-0.0%} > margin {margin:P1}"))
                : new AcceptanceDecision(false, difference, interval, Format($"bootstrap lower bound {interval.Lower:+0.0%;-0.0%;0.0%} not above margin {margin:P1}")),
            _ => throw new ArgumentOutOfRangeException(nameof(rule), rule, "Unknown acceptance rule."),
        };
    }

    /// <summary>One round of <see cref="RunChain{TModel}"/>.</summary>
    internal sealed record ChainStep<TModel>(int Round, TModel Supervisor, int SupervisorRung, TModel Student, int StudentRung,
        double SupervisorProbeAccuracy, double StudentProbeAccuracy, AcceptanceDecision Decision);

    /// <summary>The rounds of a chain and the supervisor it ends with (the last accepted model).</summary>
    internal sealed record ChainTrace<TModel>(IReadOnlyList<ChainStep<TModel>> Steps, TModel Output, int OutputRung);

    /// <summary>
    /// The teacher–student chain, independent of how models are trained: starting from <paramref name="weak"/> at rung
    /// 0, each round asks <paramref name="schedule"/> for the next rung, trains a student there on the current
    /// supervisor (<paramref name="train"/>: supervisor, rung, 1-based round), scores it on the probe set
    /// (<paramref name="probe"/>: per-example correctness), and replaces the supervisor only when
    /// <paramref name="decide"/> (student, supervisor, round) accepts it. Ends once a student of rung
    /// <paramref name="last"/> has been trained.
    /// </summary>
    internal static ChainTrace<TModel> RunChain<TModel>(TModel weak, double[] weakProbe, int last, GapSchedule schedule, IReadOnlyList<double>? capabilities,
        Func<TModel, int, int, TModel> train, Func<TModel, double[]> probe, Func<double[], double[], int, AcceptanceDecision> decide, CancellationToken ct)
    {
        var steps = new List<ChainStep<TModel>>();
        TModel supervisor = weak;
        int supervisorRung = 0, position = 0;
        double[] supervisorProbe = weakProbe;
        while (position < last)
        {
            ct.ThrowIfCancellationRequested();
            int round = steps.Count + 1;
            int rung = schedule.Next(position, last, supervisorProbe.Average(), capabilities);
            var student = train(supervisor, rung, round);
            var studentProbe = probe(student);
            var decision = decide(studentProbe, supervisorProbe, round);
            steps.Add(new ChainStep<TModel>(round, supervisor, supervisorRung, student, rung, supervisorProbe.Average(), studentProbe.Average(), decision));
            if (decision.Accepted)
            {
                supervisor = student;
                supervisorRung = rung;
                supervisorProbe = studentProbe;
            }
            position = rung;
        }
        return new ChainTrace<TModel>(steps, supervisor, supervisorRung);
    }

    private GapAnnealingSummary Summarize(IReadOnlyList<GapAnnealingSeedResult> seeds)
    {
        double level = Options.ConfidenceLevel;
        SummaryStatistics Of(Func<GapAnnealingSeedResult, double> f) => MeanSummary.Of(seeds.Select(f).ToArray(), level);
        var rungs = seeds.SelectMany(s => s.Rounds.Select(r => (Seed: s, Round: r))).GroupBy(x => x.Round.StudentRung).OrderBy(g => g.Key)
            .Select(g => new GapAnnealingRungSummary(g.First().Round.Student, g.Key, g.Count(), g.Count(x => x.Round.Decision.Accepted),
                MeanSummary.Of(g.Select(x => x.Round.StudentTestAccuracy).ToArray(), level), g.Average(x => x.Round.CeilingTestAccuracy)))
            .ToList();
        return new GapAnnealingSummary(
            Of(s => s.WeakTestAccuracy), Of(s => s.CeilingAccuracy), Of(s => s.ChainedAccuracy), Of(s => s.DirectAccuracy),
            Of(s => s.DirectOneRoundAccuracy), Of(s => s.ChainOutputAccuracy),
            ClassifierTraining.SummaryOrNull(seeds.Select(s => s.ChainedPgr), level), ClassifierTraining.SummaryOrNull(seeds.Select(s => s.DirectPgr), level),
            Of(s => s.ChainedAccuracy - s.DirectAccuracy), seeds.Count(s => s.ChainedAccuracy > s.DirectAccuracy),
            seeds.Sum(s => s.Accepted), seeds.Sum(s => s.Rejected),
            Of(s => s.ChainedWeakErrors.CopiedFraction), Of(s => s.DirectWeakErrors.CopiedFraction), rungs);
    }
}
