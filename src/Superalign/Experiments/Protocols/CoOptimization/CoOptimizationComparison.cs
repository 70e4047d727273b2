using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Superalign.Data;
using Superalign.Experiments.Metrics;
using Superalign.Objectives.Competence;
using Superalign.Objectives.Conformity;
using Superalign.Optimization;
using Superalign.Students;
using Superalign.Experiments.Tasks;
using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

/// <summary>
/// The headline experiment: on the value-conflict task, train the same tiny LM with each schedule (competence only,
/// conformity only, sequential SFT→DPO, joint weighted sum, alternating) from the same base model and with the same
/// budget of mini-batches, and report held-out competence and conformity with intervals over seeds.
/// </summary>
/// <remarks>
/// Per seed: the task is split with the seed; a tiny LM initialised from the seed is trained on the competence data
/// for <see cref="CoOptimizationOptions.PretrainSteps"/> updates (the base); the base's log-probabilities of the
/// conformity pairs are cached once (the DPO reference for every schedule); then each schedule trains a copy of the
/// base. Competence data are the task's labels (answer everything); conformity data are the rule's preference pairs.
/// <para>On your own data (<see cref="CoOptimizationOptions.SftData"/>, <see cref="CoOptimizationOptions.PreferenceData"/>)
/// the SFT rows are the competence data and the preference rows the conformity data; each file is split per seed into
/// training and held-out rows, and held-out competence (<see cref="CoOptimizationOptions.CompetenceMetric"/>) and
/// conformity (preference accuracy) are measured on the held-out rows (docs/protocols.md, "Your own data and model").
/// A <see cref="LanguageModelFactory"/> replaces the tiny LM with your own student.</para>
/// </remarks>
public sealed class CoOptimizationComparison : Protocol<CoOptimizationOptions, CoOptimizationResult>
{
    /// <summary>The protocol's name in progress reports and the catalog.</summary>
    public const string ProtocolName = "co-optimization";

    // The random streams of a seed (SeedStreams); the task instance itself takes the seed as it is.
    private const int InitStream = 1, BaseSftStream = 2, CompetenceBatchStream = 3, ConformityBatchStream = 4, ProbeSplitStream = 5,
        SftSplitStream = 6, PreferenceSplitStream = 7, PreferenceProbeStream = 8;

    /// <summary>Creates the protocol; validates the options.</summary>
    /// <param name="options">Options (validated here); null takes the defaults.</param>
    /// <param name="loggerFactory">Optional logging: the protocol's lines and the optimizers' summaries.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    /// <exception cref="ArgumentException">
    /// <see cref="CoOptimizationOptions.SftData"/> or <see cref="CoOptimizationOptions.PreferenceData"/> is missing or
    /// has a bad row (the message names the option and the file:line; the inner exception is the
    /// <see cref="DataFileException"/>): every row is read here, before any training. Or
    /// <see cref="CoOptimizationOptions.Model"/> or <see cref="CoOptimizationOptions.Tokenizer"/> is missing or
    /// unreadable, the tokenizer has more ids than the model, or a row does not fit the model's context (the message
    /// names the option and the sizes).
    /// </exception>
    public CoOptimizationComparison(CoOptimizationOptions? options = null, ILoggerFactory? loggerFactory = null)
        : base(ProtocolName, options ?? new CoOptimizationOptions(), loggerFactory)
    {
        _data = LmUserData.Load(Options.SftData, Options.PreferenceData, Options.UserModel, nameof(CoOptimizationOptions));
    }

    /// <summary>Creates the protocol with your own language-model student in place of the built-in tiny LM.</summary>
    /// <param name="studentFactory">
    /// Makes the base model of each seed (every schedule trains a <see cref="IStudent.Clone"/> of it). The run
    /// fingerprint does not see the factory: give a run directory of its own, or <see cref="ProtocolRun.ExternalInputs"/>
    /// naming the model, when you change it.
    /// </param>
    /// <param name="options">Options (validated here); null takes the defaults. ModelDim, Layers and Heads are not used.</param>
    /// <param name="loggerFactory">Optional logging.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    /// <exception cref="ArgumentException">A data file is missing or has a bad row (see the other constructor), or <see cref="CoOptimizationOptions.Model"/> is set too.</exception>
    public CoOptimizationComparison(LanguageModelFactory studentFactory, CoOptimizationOptions? options = null, ILoggerFactory? loggerFactory = null)
        : this(options, loggerFactory)
    {
        _factory = studentFactory ?? throw new ArgumentNullException(nameof(studentFactory));
        if (Options.Model is not null)
            throw new ArgumentException($"{nameof(CoOptimizationOptions)}.{nameof(CoOptimizationOptions.Model)} and a student factory both name the model: use one.", nameof(studentFactory));
    }

    private readonly LmUserData? _data;
    private readonly LanguageModelFactory? _factory;

    /// <inheritdoc />
    protected override string? DataInputs => _data?.Inputs;

    /// <inheritdoc />
    public override CoOptimizationResult Run(IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Run(ProtocolRun.None, progress, cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// One unit per seed and schedule (<c>seed-N.arm-K</c>, K the schedule's index in
    /// <see cref="CoOptimizationOptions.Schedules"/>): the schedule's run from the seed's base model, with the base's
    /// scores. A process trains a seed's base once for the arms it computes (deterministically, so arms computed in
    /// different processes start from the same base); keep a seed's arms in one share to train it once.
    /// </remarks>
    public override IReadOnlyList<string> Units => SeedArmUnits(Options.Seeds, Options.Schedules.Count);

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The selection holds some but not all arms of a seed (the summary compares
    /// schedules per seed); compute such a share with <see cref="Compute"/>.</exception>
    public override CoOptimizationResult Run(ProtocolRun run, IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var wall = Stopwatch.StartNew();
        var units = ComputeUnits(run, SelectWholeSeeds(run, Options.Seeds, Options.Schedules.Count), progress, cancellationToken);
        var bases = units.GroupBy(u => u.Run.Seed).Select(g => g.First().Base).ToList();
        var last = units[^1];
        return Summarize(bases, units.Select(u => u.Run).ToList(), last.TrainPrompts, last.TestPrompts, wall.Elapsed.TotalSeconds);
    }

    /// <inheritdoc />
    public override void Compute(ProtocolRun run, IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default) =>
        ComputeUnits(run, SelectUnits(run).ToHashSet(StringComparer.Ordinal), progress, cancellationToken);

    /// <summary>A unit: one schedule's run of a seed, its base model's scores, and the seed's prompt counts.</summary>
    internal sealed record ArmUnitData(ValueConflictScores Base, ScheduleRun Run, int TrainPrompts, int TestPrompts);

    /// <summary>A seed's base model (SFT on the seed's competence data) and what every schedule of the seed shares.</summary>
    private sealed record SeedBase(ILanguageModelStudent Model, SeedData Data, ValueConflictScores Scores, PreferenceDataset Conformity, ProbeData? Probes) : IDisposable
    {
        public void Dispose() => Model.Dispose();
    }

    /// <summary>The selected units in the order of <see cref="Units"/>, each read back or computed (and stored).</summary>
    private List<ArmUnitData> ComputeUnits(ProtocolRun run, HashSet<string> selected, IProgress<ProtocolProgress>? progress, CancellationToken cancellationToken)
    {
        var o = Options;
        var device = Devices.Parse(o.Device);
        return ComputeSeedArms(run, o.Seeds, o.Schedules.Select(s => s.Name).ToList(), selected, progress,
            (seed, stages) => TrainBase(seed, device, stages, cancellationToken),
            (b, seed, k) =>
            {
                var candidate = o.Schedules[k];
                var trained = TrainSchedule(b.Data.Evaluate, (ILanguageModelStudent)b.Model.Clone(), candidate, seed, b.Scores, b.Data.Competence, b.Conformity, b.Probes, cancellationToken);
                Logger.LogInformation("Seed {Seed} {Schedule}: competence {Competence:P1}, conformity {Conformity:P1} ({Seconds:F1} s)",
                    seed, candidate.Name, trained.Scores.Competence, trained.Scores.Conformity, trained.Seconds);
                return new ArmUnitData(b.Scores, trained, b.Data.TrainCount, b.Data.TestCount);
            }, cancellationToken);
    }

    private SeedBase TrainBase(int seed, Device device, StageCounter stages, CancellationToken cancellationToken)
    {
        var o = Options;
        var data = _data is null ? BuiltInData(seed) : UserData(_data, seed);
        var baseModel = LmTraining.NewModel(_factory ?? _data?.Factory,
            new LanguageModelRequest(SeedStreams.Mix(seed, InitStream), $"lm-seed{seed}", data.VocabularySize, data.SequenceLength, device), o.ModelDim, o.Layers, o.Heads);
        try
        {
            LmTraining.Sft(baseModel, data.Competence, o.CompetenceLoss, o.PretrainSteps, o.BatchSize, o.LearningRate, SeedStreams.Mix(seed, BaseSftStream), LoggerFactory, cancellationToken);
            var baseScores = data.Evaluate(baseModel);
            Logger.LogInformation("Seed {Seed}: base competence {Competence:P1}, conformity {Conformity:P1}", seed, baseScores.Competence, baseScores.Conformity);
            stages.Report($"seed {seed}: base trained");
            // The base is the reference of every schedule: its log-probs of the pairs are computed once.
            var conformity = data.Conformity.WithReferenceLogProbs(baseModel);
            var probeData = data.Probes is { } p ? new ProbeData(p.Competence, p.Conformity.WithReferenceLogProbs(baseModel)) : null;
            return new SeedBase(baseModel, data, baseScores, conformity, probeData);
        }
        catch
        {
            baseModel.Dispose();
            throw;
        }
    }

    /// <summary>
    /// What a seed trains and evaluates on: the competence data, the conformity pairs (without reference log-probs),
    /// the probes of the direction searches (null without <see cref="CoOptimizationOptions.ProbePrompts"/>), the held-out
    /// evaluation, and the sizes the tokenizer and the data need.
    /// </summary>
    private sealed record SeedData(SupervisedDataset Competence, PreferenceDataset Conformity, (SupervisedDataset Competence, PreferenceDataset Conformity)? Probes,
        Func<ILanguageModelStudent, ValueConflictScores> Evaluate, int VocabularySize, int SequenceLength, int TrainCount, int TestCount);

    private SeedData BuiltInData(int seed)
    {
        var task = new ValueConflictTask(Options.Task with { Seed = seed });
        var (train, probes) = SplitProbes(task, seed);
        return new SeedData(task.CompetenceData(train), task.ConformityData(train),
            probes.Count == 0 ? null : (task.CompetenceData(probes), task.ConformityData(probes)),
            task.Evaluate, task.Tokenizer.VocabularySize, task.SequenceLength, train.Count, task.TestPrompts.Count);
    }

    /// <summary>
    /// Your files for one seed: each split with the seed into training and held-out rows; with probes, the first
    /// <see cref="CoOptimizationOptions.ProbePrompts"/> rows of a seeded order of each file's training rows are the probes.
    /// </summary>
    private SeedData UserData(LmUserData data, int seed)
    {
        var o = Options;
        var split = data.SplitFor(seed, o.HeldOutFraction, SftSplitStream, PreferenceSplitStream);
        var (sftTrain, sftProbes) = Probes(split.SftTrain, seed, ProbeSplitStream, "SftData");
        var (prefTrain, prefProbes) = Probes(split.PreferenceTrain, seed, PreferenceProbeStream, "PreferenceData");
        return new SeedData(data.SupervisedData(sftTrain), data.PreferenceData(prefTrain),
            sftProbes.Count == 0 ? null : (data.SupervisedData(sftProbes), data.PreferenceData(prefProbes)),
            m => data.Evaluate(m, split.SftTest, split.PreferenceTest, o.CompetenceMetric),
            data.VocabularySize, data.SequenceLength, sftTrain.Count, split.SftTest.Count);
    }

    private (IReadOnlyList<T> Train, IReadOnlyList<T> Probes) Probes<T>(IReadOnlyList<T> rows, int seed, int stream, string file)
    {
        int count = Options.ProbePrompts;
        if (count == 0) return (rows, []);
        if (count > rows.Count - 1)
            throw new ArgumentOutOfRangeException(nameof(CoOptimizationOptions.ProbePrompts), count,
                $"{nameof(CoOptimizationOptions)}.{nameof(CoOptimizationOptions.ProbePrompts)} must leave at least one training row of {file}; seed {seed} trains on {rows.Count}.");
        var order = Enumerable.Range(0, rows.Count).ToArray();
        new Random(SeedStreams.Mix(seed, stream)).Shuffle(order);
        var probes = order.Take(count).ToHashSet();
        return (Enumerable.Range(0, rows.Count).Where(i => !probes.Contains(i)).Select(i => rows[i]).ToList(), probes.Order().Select(i => rows[i]).ToList());
    }

    /// <summary>The held-out probes of the direction searches: the probe prompts' competence data and preference pairs.</summary>
    private sealed record ProbeData(SupervisedDataset Competence, PreferenceDataset Conformity);

    /// <summary>
    /// The training prompts minus <see cref="CoOptimizationOptions.ProbePrompts"/> of them, chosen with the seed, and
    /// those probe prompts (each list in the task's order).
    /// </summary>
    private (IReadOnlyList<ArithmeticPrompt> Train, IReadOnlyList<ArithmeticPrompt> Probes) SplitProbes(ValueConflictTask task, int seed)
    {
        int count = Options.ProbePrompts;
        if (count == 0) return (task.TrainPrompts, []);
        if (count > task.TrainPrompts.Count - 1)
            throw new ArgumentOutOfRangeException(nameof(CoOptimizationOptions.ProbePrompts), count,
                $"{nameof(CoOptimizationOptions)}.{nameof(CoOptimizationOptions.ProbePrompts)} must leave at least one training prompt; the task has {task.TrainPrompts.Count}.");
        var order = Enumerable.Range(0, task.TrainPrompts.Count).ToArray();
        new Random(SeedStreams.Mix(seed, ProbeSplitStream)).Shuffle(order);
        var probes = order.Take(count).ToHashSet();
        return (Enumerable.Range(0, order.Length).Where(i => !probes.Contains(i)).Select(i => task.TrainPrompts[i]).ToList(),
                probes.Order().Select(i => task.TrainPrompts[i]).ToList());
    }

    /// <summary>
    /// Updates a schedule plans within the batch budget: one batch per update, two for joint updates; a search step
    /// computes both gradients (two batches), so a search over single-phase candidates every k steps gets
    /// budget·k/(k + 1) updates. A run also stops when the budget is spent (a search over mixed candidates).
    /// </summary>
    private int PlannedUpdates(ScheduleCandidate candidate)
    {
        int budget = Options.BatchBudget;
        if (candidate.Search is { } search)
            return search.Candidates.All(c => c.Phase == TrainingPhase.Joint) ? budget / 2 : (int)Math.Round((double)budget * search.Every / (search.Every + 1));
        return candidate.Schedule.Plan(0, budget).Phase == TrainingPhase.Joint ? budget / 2 : budget;
    }

    private ScheduleRun TrainSchedule(Func<ILanguageModelStudent, ValueConflictScores> evaluate, ILanguageModelStudent student, ScheduleCandidate candidate, int seed, ValueConflictScores baseScores,
        SupervisedDataset competence, PreferenceDataset conformity, ProbeData? probes, CancellationToken cancellationToken)
    {
        using var _ = student;
        var o = Options;
        int updates = PlannedUpdates(candidate);
        var options = LmTraining.Options(updates, candidate.Schedule, o.LearningRate);
        options = options with { ConflictMode = candidate.ConflictMode };
        if (candidate.Search is { } search)
        {
            // One batch of every probe prompt: each search scores its candidates on all of them.
            options = options with
            {
                DirectionSearch = search with
                {
                    CompetenceProbes = probes!.Competence.Batches(probes.Competence.Count, shuffle: false),
                    ConformityProbes = probes.Conformity.Batches(probes.Conformity.Count, shuffle: false),
                },
            };
        }
        using var optimizer = new AlternatingOptimizer(student, CompetenceObjectives.Create(o.CompetenceLoss),
            ConformityObjectives.Create(o.ConformityLoss, beta: o.Beta), options, logger: OptimizerLogger());
        var competenceBatches = competence.Batches(o.BatchSize, seed: SeedStreams.Mix(seed, CompetenceBatchStream));
        var conformityBatches = conformity.Batches(o.BatchSize, seed: SeedStreams.Mix(seed, ConformityBatchStream));
        var trajectory = new List<TrajectoryPoint> { new(0, baseScores.Competence, baseScores.Conformity) };
        // Checkpoints by batches trained, so that runs whose updates use different numbers of batches line up.
        var checkpoints = new Queue<int>(Enumerable.Range(1, o.Checkpoints).Select(k => (int)Math.Round((double)k * o.BatchBudget / (o.Checkpoints + 1))));
        int competenceUsed = 0, conformityUsed = 0;
        var clock = new Stopwatch();
        while (optimizer.StepsDone < updates && competenceUsed + conformityUsed < o.BatchBudget)
        {
            clock.Start();
            var report = optimizer.Step(competenceBatches, conformityBatches, cancellationToken);
            clock.Stop();
            if (report.CompetenceLoss is not null) competenceUsed++;
            if (report.ConformityLoss is not null) conformityUsed++;
            if (checkpoints.Count > 0 && competenceUsed + conformityUsed >= checkpoints.Peek())
            {
                while (checkpoints.Count > 0 && competenceUsed + conformityUsed >= checkpoints.Peek()) checkpoints.Dequeue();
                var point = evaluate(student);
                trajectory.Add(new TrajectoryPoint(competenceUsed + conformityUsed, point.Competence, point.Conformity));
            }
        }
        var scores = evaluate(student);
        trajectory.Add(new TrajectoryPoint(competenceUsed + conformityUsed, scores.Competence, scores.Conformity));
        return new ScheduleRun(candidate.Name, seed, scores, (int)optimizer.StepsDone, competenceUsed, conformityUsed, trajectory, clock.Elapsed.TotalSeconds,
            optimizer.DirectionSearchStatistics);
    }

    private ILogger<AlternatingOptimizer>? OptimizerLogger() => LoggerFactory?.CreateLogger<AlternatingOptimizer>();

    private CoOptimizationResult Summarize(List<ValueConflictScores> bases, List<ScheduleRun> runs, int trainPrompts, int testPrompts, double seconds)
    {
        var o = Options;
        double level = o.ConfidenceLevel;
        var means = o.Schedules.ToDictionary(s => s.Name, s =>
        {
            var mine = runs.Where(r => r.Schedule == s.Name).ToList();
            return (Competence: MeanSummary.Of(mine.Select(r => r.Scores.Competence).ToList(), level),
                    Conformity: MeanSummary.Of(mine.Select(r => r.Scores.Conformity).ToList(), level));
        });
        double competenceOnly = means.TryGetValue("competence-only", out var c) ? c.Competence.Mean : double.NaN;
        bool Dominated(string name) => means.Any(other => other.Key != name
            && other.Value.Competence.Mean >= means[name].Competence.Mean && other.Value.Conformity.Mean >= means[name].Conformity.Mean
            && (other.Value.Competence.Mean > means[name].Competence.Mean || other.Value.Conformity.Mean > means[name].Conformity.Mean));
        var summaries = o.Schedules.Select(s =>
        {
            var mine = runs.Where(r => r.Schedule == s.Name).ToList();
            return new ScheduleSummary(s.Name, s.Description, means[s.Name].Competence, means[s.Name].Conformity,
                means[s.Name].Competence.Mean / competenceOnly, !Dominated(s.Name), mine.Average(r => r.Seconds), SummarizeSearch(s, mine));
        }).ToList();

        string bestCompetence = summaries.MaxBy(s => s.Competence.Mean)!.Schedule;
        string bestConformity = summaries.MaxBy(s => s.Conformity.Mean)!.Schedule;
        string? winner = bestCompetence == bestConformity ? bestCompetence : null;
        var both = summaries.Where(s => s.Schedule is not ("competence-only" or "conformity-only")).ToList();
        string? bestOfBoth = both.Count == 0 ? null : both.MaxBy(s => s.Competence.Mean + s.Conformity.Mean)!.Schedule;
        var versus = Paired("alternating", "sequential", runs);
        var verdict = Verdict(summaries, winner, bestCompetence, bestConformity, bestOfBoth, versus);
        var tracker = new ParetoTracker();
        foreach (var run in runs)
            foreach (var point in run.Trajectory)
                tracker.Record($"{run.Schedule}/seed {run.Seed}", point.Batches, point.Competence, point.Conformity);
        // One run gives one final point: its hypervolume is competence × conformity; summarised over seeds.
        var hypervolumes = o.Schedules.ToDictionary(s => s.Name, s => MeanSummary.Of(runs.Where(r => r.Schedule == s.Name)
            .Select(r => ParetoAnalysis.Hypervolume([new ParetoPoint(r.Schedule, 0, r.Scores.Competence, r.Scores.Conformity)])).ToList(), level));
        var versusAlternating = o.Schedules.Where(s => s.Name != "alternating").Select(s => Paired(s.Name, "alternating", runs))
            .OfType<PairedComparison>().ToList();
        return new CoOptimizationResult(o, trainPrompts, testPrompts, bases, runs, summaries, winner, bestOfBoth, versus, verdict,
            tracker.Summarize(), hypervolumes, seconds, versusAlternating);
    }

    private static SearchSummary? SummarizeSearch(ScheduleCandidate schedule, List<ScheduleRun> runs)
    {
        if (schedule.Search is null) return null;
        var stats = runs.Select(r => r.Search!).ToList();
        var wins = schedule.Search.Candidates.ToDictionary(c => c.Name, c => stats.Sum(x => x.Wins[c.Name]), StringComparer.Ordinal);
        return new SearchSummary(wins, stats.Sum(x => x.Searches), stats.Sum(x => x.ParetoImprovements), stats.Average(x => x.SearchStepCostRatio));
    }

    private PairedComparison? Paired(string first, string second, List<ScheduleRun> runs)
    {
        if (!Options.Schedules.Any(s => s.Name == first) || !Options.Schedules.Any(s => s.Name == second)) return null;
        var a = runs.Where(r => r.Schedule == first).OrderBy(r => r.Seed).ToList();
        var b = runs.Where(r => r.Schedule == second).OrderBy(r => r.Seed).ToList();
        return new PairedComparison(first, second,
            MeanSummary.Of(a.Zip(b, (x, y) => x.Scores.Competence - y.Scores.Competence).ToList(), Options.ConfidenceLevel),
            MeanSummary.Of(a.Zip(b, (x, y) => x.Scores.Conformity - y.Scores.Conformity).ToList(), Options.ConfidenceLevel));
    }

    private static string Verdict(List<ScheduleSummary> summaries, string? winner, string bestCompetence, string bestConformity, string? bestOfBoth, PairedComparison? versus)
    {
        var text = new List<string>();
        var front = summaries.Where(s => s.OnParetoFront).Select(s => s.Schedule).ToList();
        text.Add(winner is not null
            ? $"'{winner}' has the highest mean on both competence and conformity."
            : $"No schedule wins on both: '{bestCompetence}' has the highest mean competence and '{bestConformity}' the highest mean conformity.");
        text.Add($"Pareto front of the means: {string.Join(", ", front.Select(f => $"'{f}'"))}.");
        if (bestOfBoth is not null) text.Add($"Among schedules that train both objectives, '{bestOfBoth}' has the highest competence + conformity.");
        if (versus is not null)
        {
            string Describe(string what, SummaryStatistics d) =>
                double.IsNaN(d.Lower)
                    ? string.Create(CultureInfo.InvariantCulture, $"{what} {d.Mean:+0.0%;-0.0%} (one seed, no interval)")
                    : string.Create(CultureInfo.InvariantCulture, $"{what} {d.Mean:+0.0%;-0.0%} [{d.Lower:+0.0%;-0.0%}, {d.Upper:+0.0%;-0.0%}]") +
                      (d.Lower > 0 ? " (higher)" : d.Upper < 0 ? " (lower)" : " (not distinguishable)");
            text.Add($"Alternating − sequential, paired over {versus.CompetenceDifference.Count} seed(s), {versus.CompetenceDifference.Level:P0} t intervals: " +
                     $"{Describe("competence", versus.CompetenceDifference)}, {Describe("conformity", versus.ConformityDifference)}.");
        }
        return string.Join(" ", text);
    }
}
