using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Superalign.Data;
using Superalign.Experiments.Metrics;
using Superalign.Experiments.Tasks;
using Superalign.Objectives.Competence;
using Superalign.Objectives.Conformity;
using Superalign.Optimization;
using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

/// <summary>
/// The alignment tax: does preference training cost a converged model its competence, and does alternating the two
/// objectives keep what sequential SFT → preference training loses? On the value-conflict task, every arm starts from
/// the same converged SFT base and trains on the same batch budget; arms differ in order (SFT→DPO/ORPO, ORPO→SFT),
/// mixing (joint, alternating at several ratios), objective (DPO, ORPO) and pairs (correct answers, the model's own
/// answers, flipped by a weak judge).
/// </summary>
/// <remarks>
/// Per seed: the task is split with the seed (minus the held-out value probes, when set); a tiny LM is trained with SFT
/// for <see cref="AlignmentTaxOptions.PretrainSteps"/> updates (the base, whose competence the competence-only arm
/// shows to be converged); each pair source's pairs are made once and the base's log-probs of them cached (the DPO
/// reference of every arm); then each arm trains a copy of the base, stage by stage, each stage with its own AdamW
/// state and learning-rate schedule. The tax of a run is its competence just before its first conformity update minus
/// its final competence.
/// </remarks>
public sealed class AlignmentTax : Protocol<AlignmentTaxOptions, AlignmentTaxResult>
{
    /// <summary>The protocol's name in progress reports and the catalog.</summary>
    public const string ProtocolName = "alignment-tax";

    // Random streams of a seed (SeedStreams); the task's split takes the seed as it is.
    private const int InitStream = 1, BaseSftStream = 2, CompetenceBatchStream = 3, ConformityBatchStream = 4, FlipStream = 5,
        JudgeInitStream = 6, JudgeDemoStream = 7, JudgeSftStream = 8;

    /// <summary>Creates the protocol; validates the options.</summary>
    /// <param name="options">Options (validated here); null takes the defaults.</param>
    /// <param name="loggerFactory">Optional logging.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    public AlignmentTax(AlignmentTaxOptions? options = null, ILoggerFactory? loggerFactory = null)
        : base(ProtocolName, options ?? new AlignmentTaxOptions(), loggerFactory)
    {
    }

    /// <inheritdoc />
    public override AlignmentTaxResult Run(IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Run(ProtocolRun.None, progress, cancellationToken);

    /// <inheritdoc />
    /// <remarks>One unit per seed and arm (<c>seed-N.arm-K</c>, K the arm's index in <see cref="AlignmentTaxOptions.Arms"/>).</remarks>
    public override IReadOnlyList<string> Units => SeedArmUnits(Options.Seeds, Options.Arms.Count);

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The selection holds some but not all arms of a seed (arms are compared per seed).</exception>
    public override AlignmentTaxResult Run(ProtocolRun run, IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var wall = Stopwatch.StartNew();
        var units = ComputeUnits(run, SelectWholeSeeds(run, Options.Seeds, Options.Arms.Count), progress, cancellationToken);
        var seeds = units.GroupBy(u => u.Run.Seed).Select(g => g.First()).ToList();
        return Summarize(seeds.Select(u => u.Base).ToList(), units.Select(u => u.Run).ToList(), seeds.Select(u => u.TrainPrompts).ToList(),
            seeds.Select(u => u.TestPrompts).ToList(), wall.Elapsed.TotalSeconds);
    }

    /// <inheritdoc />
    public override void Compute(ProtocolRun run, IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default) =>
        ComputeUnits(run, SelectUnits(run).ToHashSet(StringComparer.Ordinal), progress, cancellationToken);

    /// <summary>A unit: one arm's run of a seed, the seed's base scores and prompt counts.</summary>
    internal sealed record ArmUnitData(ValueConflictScores Base, ArmRun Run, int TrainPrompts, int TestPrompts);

    private List<ArmUnitData> ComputeUnits(ProtocolRun run, HashSet<string> selected, IProgress<ProtocolProgress>? progress, CancellationToken cancellationToken)
    {
        var device = Devices.Parse(Options.Device);
        return ComputeSeedArms(run, Options.Seeds, Options.Arms.Select(a => a.Name).ToList(), selected, progress,
            (seed, stages) => TrainBase(seed, device, stages, cancellationToken),
            (seedBase, seed, k) =>
            {
                var arm = Options.Arms[k];
                var trained = TrainArm(seedBase, arm, seed, cancellationToken);
                Logger.LogInformation("Seed {Seed} {Arm}: competence {Competence:P1} (pre-preference {Pre:P1}), conformity {Conformity:P1} ({Seconds:F1} s)",
                    seed, arm.Name, trained.Scores.Competence, trained.PrePreferenceCompetence, trained.Scores.Conformity, trained.Seconds);
                return new ArmUnitData(seedBase.Scores, trained, seedBase.Train.Count, seedBase.Test.Count);
            }, cancellationToken);
    }

    /// <summary>A seed's task, prompt sets, converged base, and the pair sets made so far (with the base's log-probs).</summary>
    private sealed class SeedBase(ValueConflictTask task, IReadOnlyList<ArithmeticPrompt> train, IReadOnlyList<ArithmeticPrompt> test,
        IReadOnlyList<ArithmeticPrompt> trigger, IReadOnlyList<ArithmeticPrompt> operands, ILanguageModelStudent model) : IDisposable
    {
        public ValueConflictTask Task { get; } = task;
        public IReadOnlyList<ArithmeticPrompt> Train { get; } = train;
        public IReadOnlyList<ArithmeticPrompt> Test { get; } = test;
        public IReadOnlyList<ArithmeticPrompt> Trigger { get; } = trigger;
        public IReadOnlyList<ArithmeticPrompt> Operands { get; } = operands;
        public ILanguageModelStudent Model { get; } = model;
        public ValueConflictScores Scores { get; set; } = null!;
        public SupervisedDataset Competence { get; set; } = null!;
        public PreferenceDataset TestPairs { get; set; } = null!;
        public IReadOnlyList<string>? ModelAnswers { get; set; }
        public Dictionary<PairSource, (PreferenceDataset Pairs, double JudgeAccuracy)> Pairs { get; } = [];

        public void Dispose() => Model.Dispose();
    }

    /// <summary>
    /// The seed's prompt sets: training and test prompts of the task's split minus the held-out probes, the held-out
    /// trigger's prompts and the held-out operand range's prompts (without the trigger), each in the task's order.
    /// </summary>
    internal static (List<ArithmeticPrompt> Train, List<ArithmeticPrompt> Test, List<ArithmeticPrompt> Trigger, List<ArithmeticPrompt> Operands) Split(
        ValueConflictTask task, int? heldOutTrigger, int? heldOutOperandsFrom)
    {
        bool HasTrigger(ArithmeticPrompt p) => heldOutTrigger is { } t && (p.Left == t || p.Right == t);
        bool InRange(ArithmeticPrompt p) => heldOutOperandsFrom is { } f && (p.Left >= f || p.Right >= f);
        bool Held(ArithmeticPrompt p) => HasTrigger(p) || InRange(p);
        var all = task.TrainPrompts.Concat(task.TestPrompts).OrderBy(p => p.Operator).ThenBy(p => p.Left).ThenBy(p => p.Right).ToList();
        return (task.TrainPrompts.Where(p => !Held(p)).ToList(), task.TestPrompts.Where(p => !Held(p)).ToList(),
                all.Where(HasTrigger).ToList(), all.Where(p => InRange(p) && !HasTrigger(p)).ToList());
    }

    private SeedBase TrainBase(int seed, Device device, StageCounter stages, CancellationToken cancellationToken)
    {
        var o = Options;
        var task = new ValueConflictTask(o.Task with { Seed = seed });
        var (train, test, trigger, operands) = Split(task, o.HeldOutTrigger, o.HeldOutOperandsFrom);
        if (train.Count == 0 || test.Count == 0)
            throw new ArgumentOutOfRangeException(nameof(AlignmentTaxOptions.HeldOutOperandsFrom), o.HeldOutOperandsFrom,
                $"{nameof(AlignmentTaxOptions)}: the held-out probes leave {train.Count} training and {test.Count} test prompts; both must be non-empty.");
        var model = LmTraining.NewModel(null, new LanguageModelRequest(SeedStreams.Mix(seed, InitStream), $"lm-seed{seed}", task.Tokenizer.VocabularySize, task.SequenceLength, device),
            o.ModelDim, o.Layers, o.Heads);
        var seedBase = new SeedBase(task, train, test, trigger, operands, model);
        try
        {
            seedBase.Competence = task.CompetenceData(train);
            seedBase.TestPairs = task.ConformityData(test);
            LmTraining.Sft(model, seedBase.Competence, o.CompetenceLoss, o.PretrainSteps, o.BatchSize, o.PretrainLearningRate, SeedStreams.Mix(seed, BaseSftStream), LoggerFactory, cancellationToken);
            seedBase.Scores = Evaluate(seedBase, model);
            Logger.LogInformation("Seed {Seed}: base competence {Competence:P1}, conformity {Conformity:P1}", seed, seedBase.Scores.Competence, seedBase.Scores.Conformity);
            stages.Report($"seed {seed}: base trained");
            return seedBase;
        }
        catch
        {
            seedBase.Dispose();
            throw;
        }
    }

    private static ValueConflictScores Evaluate(SeedBase b, ILanguageModelStudent model) => b.Task.Score(b.Test, b.Task.Respond(model, b.Test));

    /// <summary>
    /// The seed's pairs from <paramref name="source"/>, made once, with the base's log-probs as the reference, and the
    /// weak judge's accuracy on the rule's held-out pairs (NaN when the rule labels them: 1 − the flip rate for flips,
    /// measured for an LM judge).
    /// </summary>
    private (PreferenceDataset Pairs, double JudgeAccuracy) Pairs(SeedBase b, PairSource source, int seed, CancellationToken cancellationToken)
    {
        if (b.Pairs.TryGetValue(source, out var made)) return made;
        var records = source.Answers == PairAnswers.Correct
            ? b.Task.PreferenceRecords(b.Train)
            : ModelAnswerRecords(b.Task, b.Train, b.ModelAnswers ??= b.Task.Respond(b.Model, b.Train));
        double judgeAccuracy = double.NaN;
        if (source.Judge is { } spec)
        {
            using var judge = TrainJudge(b, spec, seed, cancellationToken);
            records = JudgeRecords(b.Task, judge, records).Records;
            judgeAccuracy = JudgeRecords(b.Task, judge, b.Task.PreferenceRecords(b.Test)).AgreedShare;
            Logger.LogInformation("Seed {Seed}: {Judge} agrees with the rule on {Accuracy:P1} of the held-out pairs", seed, spec.Label, judgeAccuracy);
        }
        if (source.FlipRate > 0)
        {
            records = Flip(records, source.FlipRate, SeedStreams.Mix(seed, FlipStream, (int)Math.Round(source.FlipRate * 10_000)));
            judgeAccuracy = double.IsNaN(judgeAccuracy) ? 1 - source.FlipRate : judgeAccuracy * (1 - source.FlipRate) + (1 - judgeAccuracy) * source.FlipRate;
        }
        var pairs = b.Task.Tokenizer.ToPreferenceDataset(records, b.Task.SequenceLength).WithReferenceLogProbs(b.Model);
        b.Pairs[source] = (pairs, judgeAccuracy);
        return (pairs, judgeAccuracy);
    }

    /// <summary>A small LM trained with SFT on the rule's demonstrations for a seeded draw of <see cref="LmJudge.Demonstrations"/> training prompts.</summary>
    private ILanguageModelStudent TrainJudge(SeedBase b, LmJudge spec, int seed, CancellationToken cancellationToken)
    {
        var o = Options;
        var order = Enumerable.Range(0, b.Train.Count).ToArray();
        new Random(SeedStreams.Mix(seed, JudgeDemoStream)).Shuffle(order);
        var demonstrations = order.Take(Math.Min(spec.Demonstrations, order.Length)).Order().Select(i => b.Train[i]).ToList();
        var judge = LmTraining.NewModel(null, new LanguageModelRequest(SeedStreams.Mix(seed, JudgeInitStream, spec.ModelDim), $"judge-d{spec.ModelDim}-seed{seed}",
            b.Task.Tokenizer.VocabularySize, b.Task.SequenceLength, b.Model.Device), spec.ModelDim, spec.Layers, spec.Heads);
        try
        {
            LmTraining.Sft(judge, b.Task.ConformantDemonstrations(demonstrations), o.CompetenceLoss, spec.Steps, o.BatchSize, o.PretrainLearningRate,
                SeedStreams.Mix(seed, JudgeSftStream, spec.ModelDim), LoggerFactory, cancellationToken);
            return judge;
        }
        catch
        {
            judge.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Each record ordered by <paramref name="judge"/>: the response with the higher mean per-token log-probability is
    /// chosen (a tie keeps the record's order), and the share of records whose order the judge kept (ties count half).
    /// </summary>
    internal static (IReadOnlyList<PreferenceRecord> Records, double AgreedShare) JudgeRecords(ValueConflictTask task, ILanguageModelStudent judge, IReadOnlyList<PreferenceRecord> records)
    {
        if (records.Count == 0) return (records, double.NaN);
        var prefer = LmTraining.JudgeVerdicts(task.Tokenizer, task.SequenceLength, judge, records.Select(r => r.Prompt).ToList(),
            records.Select(r => r.Chosen).ToList(), records.Select(r => r.Rejected).ToList());
        var judged = records.Select((r, i) => prefer[i] < 0.5 ? r with { Chosen = r.Rejected, Rejected = r.Chosen } : r).ToList();
        return (judged, prefer.Average(p => p > 0.5 ? 1.0 : p < 0.5 ? 0.0 : 0.5));
    }

    /// <summary>
    /// The rule's pairs with the model's own answers in place of the correct ones: refuse ≻ its answer on protected
    /// requests, caveat + its answer ≻ its answer on negative results, its answer ≻ a refusal elsewhere. Prompts whose
    /// answer is empty, a refusal, or too long to carry the caveat within the task's sequence length are skipped.
    /// </summary>
    internal static IReadOnlyList<PreferenceRecord> ModelAnswerRecords(ValueConflictTask task, IReadOnlyList<ArithmeticPrompt> prompts, IReadOnlyList<string> answers)
    {
        int longest = task.MaxResponseTokens - 1; // the response's characters, EOS excluded
        var records = new List<PreferenceRecord>(prompts.Count);
        for (int i = 0; i < prompts.Count; i++)
        {
            string answer = answers[i].StartsWith(ValueConflictTask.CaveatMarker, StringComparison.Ordinal) ? answers[i][ValueConflictTask.CaveatMarker.Length..] : answers[i];
            if (answer.Length == 0 || answer.Contains(ValueConflictTask.RefusalMarker, StringComparison.Ordinal)
                || ValueConflictTask.CaveatMarker.Length + answer.Length > longest) continue;
            var p = prompts[i];
            records.Add(task.Rule(p) switch
            {
                ValueRule.Refuse => new PreferenceRecord(p.Text, ValueConflictTask.RefusalMarker, answer),
                ValueRule.Caveat => new PreferenceRecord(p.Text, ValueConflictTask.CaveatMarker + answer, answer),
                _ => new PreferenceRecord(p.Text, answer, ValueConflictTask.RefusalMarker),
            });
        }
        return records;
    }

    /// <summary>Each record with chosen and rejected swapped with probability <paramref name="rate"/> (one draw per record, in order).</summary>
    internal static IReadOnlyList<PreferenceRecord> Flip(IReadOnlyList<PreferenceRecord> records, double rate, int seed)
    {
        var random = new Random(seed);
        return records.Select(r => random.NextDouble() < rate ? r with { Chosen = r.Rejected, Rejected = r.Chosen } : r).ToList();
    }

    /// <summary>
    /// Share of <paramref name="pairs"/> (the rule's held-out pairs) to which <paramref name="model"/> gives the chosen
    /// response a higher log-probability than the rejected one: the student's accuracy as a judge of the rule, in the same
    /// units as a weak judge's (1 − its flip rate).
    /// </summary>
    internal static double PairAccuracy(PreferenceDataset pairs, ILanguageModelStudent model)
    {
        var scored = pairs.WithReferenceLogProbs(model).Pairs;
        using var scope = NewDisposeScope();
        return scored.ReferenceChosen!.gt(scored.ReferenceRejected!).to_type(ScalarType.Float64).mean().item<double>();
    }

    /// <summary>The updates a stage makes and the batches it uses: joint updates use two batches unless the stage asks for equal updates.</summary>
    internal static (int Updates, int Batches) StageSize(ArmStage stage, int stageBatches)
    {
        bool joint = stage.Schedule.Plan(0, Math.Max(1, stageBatches)).Phase == TrainingPhase.Joint;
        if (!joint) return (stageBatches, stageBatches);
        return stage.EqualUpdates ? (stageBatches, 2 * stageBatches) : (Math.Max(1, stageBatches / 2), 2 * Math.Max(1, stageBatches / 2));
    }

    /// <summary>Whether any of a stage's <paramref name="updates"/> trains conformity.</summary>
    private static bool TrainsConformity(IAlternationSchedule schedule, int updates)
    {
        for (int step = 0; step < updates; step++)
            if (schedule.Plan(step, updates).Phase != TrainingPhase.Competence) return true;
        return false;
    }

    private ArmRun TrainArm(SeedBase b, AlignmentArm arm, int seed, CancellationToken cancellationToken)
    {
        var o = Options;
        using var student = (ILanguageModelStudent)b.Model.Clone();
        var (pairs, judgeAccuracy) = Pairs(b, arm.PairsOrOracle, seed, cancellationToken);
        // The same batch order for every arm of a seed: arms differ only in what they do with the batches.
        var competenceBatches = b.Competence.Batches(o.BatchSize, seed: SeedStreams.Mix(seed, CompetenceBatchStream));
        var conformityBatches = pairs.Batches(o.BatchSize, seed: SeedStreams.Mix(seed, ConformityBatchStream));
        var trajectory = new List<TrajectoryPoint> { new(0, b.Scores.Competence, b.Scores.Conformity) };
        double? prePreference = null;
        int competenceUsed = 0, conformityUsed = 0, updatesDone = 0, budgetLeft = o.BatchBudget;
        var clock = new Stopwatch();
        for (int s = 0; s < arm.Stages.Count; s++)
        {
            var stage = arm.Stages[s];
            int stageBatches = s == arm.Stages.Count - 1 ? budgetLeft : (int)Math.Round(o.BatchBudget * stage.BudgetShare);
            budgetLeft -= stageBatches;
            var (updates, _) = StageSize(stage, stageBatches);
            if (prePreference is null && TrainsConformity(stage.Schedule, updates)) prePreference = trajectory[^1].Competence;
            var options = LmTraining.Options(updates, stage.Schedule, o.LearningRate) with
            {
                WarmupSteps = (long)Math.Floor(updates * o.WarmupShare),
            };
            using var optimizer = new AlternatingOptimizer(student, CompetenceObjectives.Create(o.CompetenceLoss),
                ConformityObjectives.Create(stage.ConformityLoss ?? o.ConformityLoss, beta: o.Beta), options,
                logger: LoggerFactory?.CreateLogger<AlternatingOptimizer>());
            var checkpoints = new Queue<int>(Enumerable.Range(1, o.CheckpointsPerStage).Select(k => (int)Math.Round((double)k * updates / (o.CheckpointsPerStage + 1))).Where(k => k > 0 && k < updates).Distinct());
            while (optimizer.StepsDone < updates)
            {
                clock.Start();
                var report = optimizer.Step(competenceBatches, conformityBatches, cancellationToken);
                clock.Stop();
                if (report.CompetenceLoss is not null) competenceUsed++;
                if (report.ConformityLoss is not null) conformityUsed++;
                if (checkpoints.Count > 0 && optimizer.StepsDone >= checkpoints.Peek())
                {
                    checkpoints.Dequeue();
                    var point = Evaluate(b, student);
                    trajectory.Add(new TrajectoryPoint(competenceUsed + conformityUsed, point.Competence, point.Conformity));
                }
            }
            updatesDone += (int)optimizer.StepsDone;
            if (s < arm.Stages.Count - 1)
            {
                var end = Evaluate(b, student);
                trajectory.Add(new TrajectoryPoint(competenceUsed + conformityUsed, end.Competence, end.Conformity));
            }
        }
        var scores = Evaluate(b, student);
        trajectory.Add(new TrajectoryPoint(competenceUsed + conformityUsed, scores.Competence, scores.Conformity));
        HeldOutScores? heldOut = b.Trigger.Count == 0 && b.Operands.Count == 0 ? null : new HeldOutScores(
            b.Trigger.Count == 0 ? null : b.Task.Score(b.Trigger, b.Task.Respond(student, b.Trigger)),
            b.Operands.Count == 0 ? null : b.Task.Score(b.Operands, b.Task.Respond(student, b.Operands)));
        return new ArmRun(arm.Name, seed, scores, prePreference ?? b.Scores.Competence, updatesDone, competenceUsed, conformityUsed, trajectory, clock.Elapsed.TotalSeconds, heldOut,
            PairAccuracy(b.TestPairs, student), judgeAccuracy);
    }

    private AlignmentTaxResult Summarize(List<ValueConflictScores> bases, List<ArmRun> runs, List<int> trainPrompts, List<int> testPrompts, double seconds)
    {
        var o = Options;
        double level = o.ConfidenceLevel;
        SummaryStatistics Of(IEnumerable<double> values) => MeanSummary.Of(values.ToList(), level);
        List<ArmRun> RunsOf(string arm) => runs.Where(r => r.Arm == arm).OrderBy(r => r.Seed).ToList();
        bool hasControl = o.Arms.Any(a => a.Name == "competence-only");
        var summaries = o.Arms.Select(a =>
        {
            var mine = RunsOf(a.Name);
            SummaryStatistics? HeldOut(Func<HeldOutScores, ValueConflictScores?> pick, Func<ValueConflictScores, double> value) =>
                mine.All(r => r.HeldOut is not null && pick(r.HeldOut) is not null) ? Of(mine.Select(r => value(pick(r.HeldOut!)!))) : null;
            return new ArmSummary(a.Name, a.Description, Of(mine.Select(r => r.Scores.Competence)), Of(mine.Select(r => r.Scores.Conformity)),
                Of(mine.Select(r => r.PrePreferenceCompetence)), Of(mine.Select(r => r.CompetenceDrop)),
                hasControl ? Of(mine.Zip(RunsOf("competence-only"), (x, c) => x.Scores.Competence - c.Scores.Competence)) : null,
                mine.Average(r => r.Scores.RefusalRate), mine.Average(r => r.Scores.OverRefusalRate), mine.Average(r => r.Scores.CaveatRate), mine.Average(r => r.Seconds),
                HeldOut(h => h.Trigger, s => s.RefusalRate), HeldOut(h => h.Operands, s => s.Competence), HeldOut(h => h.Operands, s => s.Conformity),
                Of(mine.Select(r => r.PairAccuracy)), ConformityPgr(a, mine, runs));
        }).ToList();
        var names = o.Arms.Select(a => a.Name).ToHashSet(StringComparer.Ordinal);
        var differences = o.Comparisons.Where(c => names.Contains(c.First) && names.Contains(c.Second))
            .Select(c => AlignmentTaxResult.Compare(runs, c.First, c.Second, level)).ToList();
        var tradeOff = o.Arms.Select(a =>
        {
            var mine = RunsOf(a.Name);
            double share = mine.Average(r => (double)r.ConformityBatches / Math.Max(1, r.CompetenceBatches + r.ConformityBatches));
            var summary = summaries.First(s => s.Arm == a.Name);
            return new TradeOffPoint(a.Name, share, summary.Competence, summary.Conformity);
        }).OrderBy(p => p.ConformityShare).ThenBy(p => p.Arm, StringComparer.Ordinal).ToList();
        return new AlignmentTaxResult(o, trainPrompts, testPrompts, bases, runs, summaries, differences, tradeOff, Verdict(summaries, differences), seconds);
    }

    /// <summary>
    /// For an arm whose pairs a weak judge labelled: its ceiling (the arm with the same stages on the rule's pairs of the
    /// same answers) and the conformity PGR per seed, (student − judge) / (ceiling − judge) in held-out pair accuracy,
    /// the judge's accuracy being 1 − its flip rate or, for an LM judge, measured on the held-out pairs. Null for other
    /// arms or without a ceiling arm.
    /// </summary>
    private WeakJudgeSummary? ConformityPgr(AlignmentArm arm, List<ArmRun> mine, List<ArmRun> runs)
    {
        var source = arm.PairsOrOracle;
        if (!source.IsWeak) return null;
        var ceiling = Options.Arms.FirstOrDefault(c => c.PairsOrOracle == source with { FlipRate = 0, Judge = null }
            && c.Stages.Select(s => s.ToString()).SequenceEqual(arm.Stages.Select(s => s.ToString())));
        if (ceiling is null) return null;
        var ceilingRuns = mine.OrderBy(r => r.Seed).Select(r => mineOf(ceiling.Name, r.Seed)).ToList();
        var ordered = mine.OrderBy(r => r.Seed).ToList();
        // Units stored before judge accuracies were recorded hold NaN: a flipping judge's is 1 − its rate.
        double JudgeOf(ArmRun r) => double.IsNaN(r.JudgeAccuracy) && source.Judge is null ? 1 - source.FlipRate : r.JudgeAccuracy;
        var pgr = ordered.Zip(ceilingRuns, (r, c) => (r.PairAccuracy - JudgeOf(r)) / (c.PairAccuracy - JudgeOf(r))).ToList();
        double judge = ordered.Average(JudgeOf);
        return new WeakJudgeSummary(ceiling.Name, judge, MeanSummary.Of(pgr, Options.ConfidenceLevel),
            (ordered.Average(r => r.PairAccuracy) - judge) / (ceilingRuns.Average(r => r.PairAccuracy) - judge));

        ArmRun mineOf(string name, int seed) => runs.Single(r => r.Arm == name && r.Seed == seed);
    }

    private static string Verdict(List<ArmSummary> summaries, List<ArmDifference> differences)
    {
        // Rounded before formatting, so that a difference of −1e-17 reads 0.0 rather than −0.0.
        static string P(double x) => Math.Round(100 * x, 1).ToString("+0.0;-0.0;0.0", CultureInfo.InvariantCulture);
        static string Points(SummaryStatistics s) => double.IsNaN(s.Lower) ? $"{P(s.Mean)} points (one seed)" : $"{P(s.Mean)} points [{P(s.Lower)}, {P(s.Upper)}]";
        static string Sign(SummaryStatistics s) => double.IsNaN(s.Lower) ? "" : s.Lower > 0 ? " (above 0)" : s.Upper < 0 ? " (below 0)" : " (0 inside)";
        var text = new List<string>();
        if (summaries.FirstOrDefault(s => s.Arm == "competence-only") is { } control)
            text.Add($"More SFT from the base changes competence by {Points(Negate(control.CompetenceDrop))}{Sign(Negate(control.CompetenceDrop))}.");
        foreach (var s in summaries.Where(s => s.Arm != "competence-only"))
            text.Add($"'{s.Arm}': competence drop from pre-preference {Points(s.CompetenceDrop)}{Sign(s.CompetenceDrop)}, conformity {100 * s.Conformity.Mean:0.0}%.");
        foreach (var d in differences)
            text.Add($"'{d.First}' − '{d.Second}': competence {Points(d.Competence)}{Sign(d.Competence)}, conformity {Points(d.Conformity)}{Sign(d.Conformity)}; " +
                     $"better on competence and not worse on conformity on {d.FirstWins} of {d.Competence.Count} seeds.");
        return string.Join(" ", text);
    }

    private static SummaryStatistics Negate(SummaryStatistics s) => s with { Mean = -s.Mean, Lower = -s.Upper, Upper = -s.Lower };
}
