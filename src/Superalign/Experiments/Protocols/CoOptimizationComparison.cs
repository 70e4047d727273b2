using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Superalign.Data;
using Superalign.Experiments.Metrics;
using Superalign.Objectives.Competence;
using Superalign.Objectives.Conformity;
using Superalign.Optimization;
using Superalign.Students;
using Superalign.Experiments.Tasks;
using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

/// <summary>A training schedule compared by <see cref="CoOptimizationComparison"/>.</summary>
/// <param name="Name">Short name used in tables and JSON (e.g. <c>alternating</c>).</param>
/// <param name="Schedule">The alternation schedule.</param>
/// <param name="Configure">Optional change to the optimizer options of this candidate (e.g. a conflict-aware mode).</param>
/// <param name="Search">
/// Optional search over learning directions (<see cref="AlternatingOptimizerOptions.DirectionSearch"/>), which replaces
/// <paramref name="Schedule"/>; the protocol supplies its probe sources from the held-out probe prompts
/// (<see cref="CoOptimizationOptions.ProbePrompts"/>), replacing any given here.
/// </param>
public sealed record ScheduleCandidate(
    string Name,
    [property: JsonIgnore] IAlternationSchedule Schedule,
    [property: JsonIgnore] Func<AlternatingOptimizerOptions, AlternatingOptimizerOptions>? Configure = null,
    [property: JsonIgnore] DirectionSearchOptions? Search = null)
{
    /// <summary>The schedule's description (for JSON and logs).</summary>
    public string Description => Search is { } search
        ? $"direction search every {search.Every} steps over {string.Join(", ", search.Candidates.Select(c => c.Name))} ({search.Choice})"
        : Schedule.ToString() ?? Name;

    /// <summary>A candidate that searches over learning directions instead of following a schedule.</summary>
    public static ScheduleCandidate Searching(string name, DirectionSearchOptions search) =>
        new(name, AlternationSchedules.FixedRatio(1, 1), null, search ?? throw new ArgumentNullException(nameof(search)));

    /// <summary>
    /// The five schedules of the headline comparison: competence only, conformity only, sequential (competence then
    /// conformity, half the budget each: SFT then DPO), joint (weighted sum 1:1, RPO-like) and alternating (1:1).
    /// </summary>
    public static IReadOnlyList<ScheduleCandidate> Defaults() =>
    [
        new("competence-only", AlternationSchedules.CompetenceOnly()),
        new("conformity-only", AlternationSchedules.ConformityOnly()),
        new("sequential", AlternationSchedules.Sequential(0.5)),
        new("joint", AlternationSchedules.Joint(1.0, 1.0)),
        new("alternating", AlternationSchedules.FixedRatio(1, 1)),
    ];

    /// <summary>
    /// The paper's path against plain alternation: alternating 1:1; an annealed ratio (conformity share 0.2 → 0.8);
    /// joint 1:1 as the plain weighted sum; joint with conflict-aware combinations of the two gradients — PCGrad
    /// (<see cref="ConflictMode.ProjectConflicting"/>) and MGDA (<see cref="ConflictMode.MinNorm"/>); and three searches
    /// over learning directions every 4 steps: over the phase (competence or conformity step) with the best Pareto
    /// improvement on the probes, the same with the scalarized rule, and over joint weights (1:0.5, 1:1, 0.5:1) with
    /// the best Pareto improvement. The searches need <see cref="CoOptimizationOptions.ProbePrompts"/>.
    /// </summary>
    public static IReadOnlyList<ScheduleCandidate> ConflictAware() =>
    [
        new("alternating", AlternationSchedules.FixedRatio(1, 1)),
        new("annealed-ratio", AlternationSchedules.AnnealedRatio(0.2, 0.8)),
        new("joint", AlternationSchedules.Joint(1.0, 1.0)),
        new("joint-pcgrad", AlternationSchedules.Joint(1.0, 1.0), o => o with { ConflictMode = ConflictMode.ProjectConflicting }),
        new("joint-mgda", AlternationSchedules.Joint(1.0, 1.0), o => o with { ConflictMode = ConflictMode.MinNorm }),
        Searching("search-phase", new DirectionSearchOptions { Candidates = [DirectionCandidate.Competence, DirectionCandidate.Conformity], Every = 4 }),
        Searching("search-phase-scalarized", new DirectionSearchOptions
        {
            Candidates = [DirectionCandidate.Competence, DirectionCandidate.Conformity], Every = 4, Choice = DirectionChoice.Scalarized,
        }),
        Searching("search-weights", new DirectionSearchOptions
        {
            Candidates = [DirectionCandidate.Joint(1, 0.5), DirectionCandidate.Joint(1, 1), DirectionCandidate.Joint(0.5, 1)], Every = 4,
        }),
    ];
}

/// <summary>Options of <see cref="CoOptimizationComparison"/>; validated when the protocol is created.</summary>
public sealed record CoOptimizationOptions
{
    /// <summary>The value-conflict task (its split seed is replaced by each run's seed).</summary>
    public ValueConflictTaskOptions Task { get; init; } = new();

    /// <summary>Seeds: each gives its own split, initial weights, base model and batch order. At least one; distinct.</summary>
    public IReadOnlyList<int> Seeds { get; init; } = [0, 1, 2];

    /// <summary>The schedules to compare (at least one; distinct names).</summary>
    [JsonIgnore]
    public IReadOnlyList<ScheduleCandidate> Schedules { get; init; } = ScheduleCandidate.Defaults();

    /// <summary>The schedules' names and descriptions, as written to JSON.</summary>
    public IReadOnlyList<string> ScheduleNames => Schedules.Select(s => $"{s.Name}: {s.Description}").ToList();

    /// <summary>Width of the tiny LM's residual stream.</summary>
    public int ModelDim { get; init; } = 64;

    /// <summary>Transformer blocks of the tiny LM.</summary>
    public int Layers { get; init; } = 2;

    /// <summary>Attention heads of the tiny LM.</summary>
    public int Heads { get; init; } = 4;

    /// <summary>
    /// Competence (SFT) updates that make the shared base model every schedule starts from; the base is also the DPO
    /// reference policy of every schedule. 0 starts from the random initialisation.
    /// </summary>
    public int PretrainSteps { get; init; } = 600;

    /// <summary>
    /// Mini-batches each schedule trains on after the base (competence and conformity batches together): a schedule
    /// that computes both losses in one update (joint) gets half as many updates, so every schedule costs the same
    /// number of gradient evaluations.
    /// </summary>
    public int BatchBudget { get; init; } = 1600;

    /// <summary>Examples per mini-batch (pairs for conformity).</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Peak learning rate (AdamW, warm-up then cosine decay).</summary>
    public double LearningRate { get; init; } = 2e-3;

    /// <summary>Competence objective name (<see cref="CompetenceObjectives.Names"/>).</summary>
    public string CompetenceLoss { get; init; } = "nll";

    /// <summary>
    /// Conformity objective name (<see cref="ConformityObjectives.Names"/>). Default <c>orpo</c>: on this task plain
    /// DPO (<c>sigmoid</c>) separates the pairs' log-probs (reward accuracy near 1) by pushing the rejected responses
    /// down without making the chosen ones the greedy output, so held-out conformity does not move; ORPO's likelihood
    /// term on the chosen response fixes that (docs/results.md shows both).
    /// </summary>
    public string ConformityLoss { get; init; } = "orpo";

    /// <summary>Strength of the conformity objective: β of the DPO family, λ of <c>orpo</c>.</summary>
    public double Beta { get; init; } = 0.5;

    /// <summary>
    /// Training prompts set aside per seed (chosen with the seed) as the probes of the direction searches: neither the
    /// base nor any schedule trains on them, so every schedule of the comparison sees the same training data. Required
    /// (&gt;= 1) when a schedule searches; 0 (the default) keeps every training prompt for training.
    /// </summary>
    public int ProbePrompts { get; init; }

    /// <summary>Held-out evaluations along each run (the trajectory), besides the final one; 0 for the final only.</summary>
    public int Checkpoints { get; init; } = 8;

    /// <summary>Confidence level of the intervals over seeds.</summary>
    public double Level { get; init; } = 0.95;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        const string owner = nameof(CoOptimizationOptions);
        ArgumentNullException.ThrowIfNull(Task, nameof(Task));
        Task.Validate();
        ProtocolCheck.NotEmpty(Seeds, nameof(Seeds), owner);
        ProtocolCheck.Distinct(Seeds, nameof(Seeds), owner);
        ProtocolCheck.NotEmpty(Schedules, nameof(Schedules), owner);
        ProtocolCheck.Distinct(Schedules.Select(s => s.Name).ToList(), nameof(Schedules), owner);
        ProtocolCheck.LanguageModel(ModelDim, Layers, Heads, owner);
        ProtocolCheck.AtLeast(PretrainSteps, 0, nameof(PretrainSteps), owner);
        ProtocolCheck.AtLeast(BatchBudget, 2, nameof(BatchBudget), owner);
        ProtocolCheck.AtLeast(BatchSize, 1, nameof(BatchSize), owner);
        ProtocolCheck.Positive(LearningRate, nameof(LearningRate), owner);
        ProtocolCheck.Positive(Beta, nameof(Beta), owner);
        ProtocolCheck.AtLeast(Checkpoints, 0, nameof(Checkpoints), owner);
        ProtocolCheck.AtLeast(ProbePrompts, 0, nameof(ProbePrompts), owner);
        if (Schedules.FirstOrDefault(s => s.Search is not null) is { } searching)
        {
            if (ProbePrompts < 1)
                throw new ArgumentOutOfRangeException(nameof(ProbePrompts), ProbePrompts,
                    $"{owner}.{nameof(ProbePrompts)} must be >= 1: the schedule '{searching.Name}' searches over learning directions and scores its candidates on held-out probe prompts (e.g. 128).");
            foreach (var schedule in Schedules.Where(s => s.Search is not null))
                schedule.Search!.ValidateExceptProbes(); // the probes come from the protocol
        }
        ProtocolCheck.Fraction(Level, nameof(Level), owner);
        ProtocolCheck.CompetenceLoss(CompetenceLoss, nameof(CompetenceLoss), owner);
        ProtocolCheck.ConformityLoss(ConformityLoss, nameof(ConformityLoss), owner);
    }
}

/// <summary>Held-out competence and conformity after a number of training batches.</summary>
/// <param name="Batches">Mini-batches trained on so far (after the base).</param>
/// <param name="Competence">Held-out competence.</param>
/// <param name="Conformity">Held-out conformity.</param>
public sealed record TrajectoryPoint(int Batches, double Competence, double Conformity);

/// <summary>One schedule trained from one seed's base model.</summary>
/// <param name="Schedule">The schedule's name.</param>
/// <param name="Seed">The seed.</param>
/// <param name="Scores">Held-out scores at the end.</param>
/// <param name="Updates">Optimizer updates made.</param>
/// <param name="CompetenceBatches">Competence mini-batches used.</param>
/// <param name="ConformityBatches">Conformity mini-batches used.</param>
/// <param name="Trajectory">Held-out scores along training (starting with the base).</param>
/// <param name="Seconds">Training time (evaluation excluded).</param>
/// <param name="Search">What the direction search did (wins, cost), for a schedule that searches; otherwise null.</param>
public sealed record ScheduleRun(string Schedule, int Seed, ValueConflictScores Scores, int Updates, int CompetenceBatches, int ConformityBatches,
    IReadOnlyList<TrajectoryPoint> Trajectory, double Seconds, DirectionSearchStatistics? Search = null);

/// <summary>A searching schedule's direction searches, over its seeds.</summary>
/// <param name="Wins">Per candidate, the searches it won (summed over seeds).</param>
/// <param name="Searches">Searches run (summed over seeds).</param>
/// <param name="ParetoImprovements">Searches whose winner raised neither probe loss.</param>
/// <param name="SearchStepCostRatio">Mean over seeds of the wall time of a search step over that of a plain step.</param>
public sealed record SearchSummary(IReadOnlyDictionary<string, int> Wins, int Searches, int ParetoImprovements, double SearchStepCostRatio);

/// <summary>One schedule's results over seeds.</summary>
/// <param name="Schedule">The schedule's name.</param>
/// <param name="Description">The schedule's description.</param>
/// <param name="Competence">Held-out competence over seeds (mean, t interval).</param>
/// <param name="Conformity">Held-out conformity over seeds.</param>
/// <param name="CompetenceRetention">Mean competence as a fraction of the competence-only schedule's (NaN when that schedule is not compared).</param>
/// <param name="OnParetoFront">Whether no other schedule has a mean at least as high on both and higher on one.</param>
/// <param name="MeanSeconds">Mean training time per seed (evaluation excluded).</param>
/// <param name="Search">For a schedule that searches: its win counts and cost; otherwise null.</param>
public sealed record ScheduleSummary(string Schedule, string Description, SummaryStatistics Competence, SummaryStatistics Conformity, double CompetenceRetention,
    bool OnParetoFront, double MeanSeconds = double.NaN, SearchSummary? Search = null);

/// <summary>A paired comparison of two schedules over seeds (same seed = same base and data).</summary>
/// <param name="First">The first schedule.</param>
/// <param name="Second">The schedule subtracted.</param>
/// <param name="CompetenceDifference">Mean of first − second competence over seeds, with a t interval.</param>
/// <param name="ConformityDifference">Mean of first − second conformity over seeds, with a t interval.</param>
public sealed record PairedComparison(string First, string Second, SummaryStatistics CompetenceDifference, SummaryStatistics ConformityDifference);

/// <summary>The result of <see cref="CoOptimizationComparison.Run"/>.</summary>
/// <param name="Options">The options.</param>
/// <param name="TrainPrompts">Training prompts per seed.</param>
/// <param name="TestPrompts">Held-out prompts per seed.</param>
/// <param name="Base">Held-out scores of each seed's base model (before any schedule).</param>
/// <param name="Runs">Every (schedule, seed) run.</param>
/// <param name="Summaries">Per-schedule results over seeds.</param>
/// <param name="WinnerOnBoth">The schedule with the highest mean competence and the highest mean conformity, when one schedule has both; otherwise null.</param>
/// <param name="BestOfBothObjectives">Among schedules that train both objectives, the one with the highest mean of the two scores.</param>
/// <param name="AlternatingVersusSequential">Paired differences alternating − sequential, when both are compared.</param>
/// <param name="VersusAlternating">Paired differences schedule − alternating for every other schedule, when alternating is compared.</param>
/// <param name="Verdict">The comparison in words, built from the numbers above.</param>
/// <param name="Pareto">
/// Every run's trajectory (run <c>schedule/seed N</c>, progress = mini-batches trained), the Pareto front of the runs'
/// final (competence, conformity) points and its hypervolume.
/// </param>
/// <param name="HypervolumeBySchedule">Per schedule, the hypervolume of its runs' final points (mean over seeds of each seed's single point).</param>
/// <param name="WallSeconds">Wall time of the whole protocol.</param>
public sealed record CoOptimizationResult(
    CoOptimizationOptions Options, int TrainPrompts, int TestPrompts, IReadOnlyList<ValueConflictScores> Base, IReadOnlyList<ScheduleRun> Runs,
    IReadOnlyList<ScheduleSummary> Summaries, string? WinnerOnBoth, string? BestOfBothObjectives, PairedComparison? AlternatingVersusSequential,
    string Verdict, ParetoSummary Pareto, IReadOnlyDictionary<string, SummaryStatistics> HypervolumeBySchedule, double WallSeconds,
    IReadOnlyList<PairedComparison>? VersusAlternating = null);

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
/// </remarks>
public sealed class CoOptimizationComparison
{
    private readonly CoOptimizationOptions _options;
    private readonly ILogger _logger;
    private readonly ILoggerFactory? _loggerFactory;

    /// <summary>Creates the protocol; validates the options.</summary>
    /// <param name="options">The options; null for the defaults.</param>
    /// <param name="loggerFactory">Optional logging (the protocol's progress and the optimizer's summaries).</param>
    public CoOptimizationComparison(CoOptimizationOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        _options = options ?? new CoOptimizationOptions();
        _options.Validate();
        _loggerFactory = loggerFactory;
        _logger = loggerFactory?.CreateLogger<CoOptimizationComparison>() ?? NullLogger<CoOptimizationComparison>.Instance;
    }

    /// <summary>The protocol's name in progress reports and JSON.</summary>
    public const string Name = "co-optimization";

    /// <summary>Runs every schedule on every seed.</summary>
    public CoOptimizationResult Run(IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var wall = Stopwatch.StartNew();
        var o = _options;
        int total = o.Seeds.Count * (1 + o.Schedules.Count), done = 0;
        var runs = new List<ScheduleRun>();
        var bases = new List<ValueConflictScores>();
        int trainPrompts = 0, testPrompts = 0;
        foreach (int seed in o.Seeds)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var task = new ValueConflictTask(o.Task with { Seed = seed });
            var (train, probes) = SplitProbes(task, seed);
            (trainPrompts, testPrompts) = (train.Count, task.TestPrompts.Count);
            var competence = task.CompetenceData(train);
            using var baseModel = LmTraining.NewModel(task, o.ModelDim, o.Layers, o.Heads, seed, $"lm-seed{seed}");
            LmTraining.Sft(baseModel, competence, o.CompetenceLoss, o.PretrainSteps, o.BatchSize, o.LearningRate, seed, _loggerFactory, cancellationToken);
            var baseScores = task.Evaluate(baseModel);
            bases.Add(baseScores);
            _logger.LogInformation("Seed {Seed}: base competence {Competence:P1}, conformity {Conformity:P1}", seed, baseScores.Competence, baseScores.Conformity);
            progress?.Report(new ProtocolProgress(Name, $"seed {seed}: base trained", ++done, total));
            // The base is the reference of every schedule: its log-probs of the pairs are computed once.
            var conformity = task.ConformityData(train).WithReferenceLogProbs(baseModel);
            var probeData = probes.Count == 0 ? null : new ProbeData(task.CompetenceData(probes), task.ConformityData(probes).WithReferenceLogProbs(baseModel));
            foreach (var candidate in o.Schedules)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var run = TrainSchedule(task, (TinyCausalLm)baseModel.Clone(), candidate, seed, baseScores, competence, conformity, probeData, cancellationToken);
                runs.Add(run);
                _logger.LogInformation("Seed {Seed} {Schedule}: competence {Competence:P1}, conformity {Conformity:P1} ({Seconds:F1} s)",
                    seed, candidate.Name, run.Scores.Competence, run.Scores.Conformity, run.Seconds);
                progress?.Report(new ProtocolProgress(Name, $"seed {seed}: {candidate.Name} trained", ++done, total));
            }
        }
        return Summarize(bases, runs, trainPrompts, testPrompts, wall.Elapsed.TotalSeconds);
    }

    /// <summary>The held-out probes of the direction searches: the probe prompts' competence data and preference pairs.</summary>
    private sealed record ProbeData(SupervisedDataset Competence, PreferenceDataset Conformity);

    /// <summary>
    /// The training prompts minus <see cref="CoOptimizationOptions.ProbePrompts"/> of them, chosen with the seed, and
    /// those probe prompts (each list in the task's order).
    /// </summary>
    private (IReadOnlyList<ArithmeticPrompt> Train, IReadOnlyList<ArithmeticPrompt> Probes) SplitProbes(ValueConflictTask task, int seed)
    {
        int count = _options.ProbePrompts;
        if (count == 0) return (task.TrainPrompts, []);
        if (count > task.TrainPrompts.Count - 1)
            throw new ArgumentOutOfRangeException(nameof(CoOptimizationOptions.ProbePrompts), count,
                $"{nameof(CoOptimizationOptions)}.{nameof(CoOptimizationOptions.ProbePrompts)} must leave at least one training prompt; the task has {task.TrainPrompts.Count}.");
        var order = Enumerable.Range(0, task.TrainPrompts.Count).ToArray();
        new Random(seed + 3000).Shuffle(order);
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
        int budget = _options.BatchBudget;
        if (candidate.Search is { } search)
            return search.Candidates.All(c => c.Phase == TrainingPhase.Joint) ? budget / 2 : (int)Math.Round((double)budget * search.Every / (search.Every + 1));
        return candidate.Schedule.Plan(0, budget).Phase == TrainingPhase.Joint ? budget / 2 : budget;
    }

    private ScheduleRun TrainSchedule(ValueConflictTask task, TinyCausalLm student, ScheduleCandidate candidate, int seed, ValueConflictScores baseScores,
        SupervisedDataset competence, PreferenceDataset conformity, ProbeData? probes, CancellationToken cancellationToken)
    {
        using var _ = student;
        var o = _options;
        int updates = PlannedUpdates(candidate);
        var options = LmTraining.Options(updates, candidate.Schedule, o.LearningRate);
        if (candidate.Configure is not null) options = candidate.Configure(options);
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
        var competenceBatches = competence.Batches(o.BatchSize, seed: seed + 1000);
        var conformityBatches = conformity.Batches(o.BatchSize, seed: seed + 2000);
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
                var point = task.Evaluate(student);
                trajectory.Add(new TrajectoryPoint(competenceUsed + conformityUsed, point.Competence, point.Conformity));
            }
        }
        var scores = task.Evaluate(student);
        trajectory.Add(new TrajectoryPoint(competenceUsed + conformityUsed, scores.Competence, scores.Conformity));
        return new ScheduleRun(candidate.Name, seed, scores, (int)optimizer.StepsDone, competenceUsed, conformityUsed, trajectory, clock.Elapsed.TotalSeconds,
            optimizer.DirectionSearchStatistics);
    }

    private ILogger<AlternatingOptimizer>? OptimizerLogger() => _loggerFactory?.CreateLogger<AlternatingOptimizer>();

    private CoOptimizationResult Summarize(List<ValueConflictScores> bases, List<ScheduleRun> runs, int trainPrompts, int testPrompts, double seconds)
    {
        var o = _options;
        double level = o.Level;
        var means = o.Schedules.ToDictionary(s => s.Name, s =>
        {
            var mine = runs.Where(r => r.Schedule == s.Name).ToList();
            return (Competence: Summaries.Of(mine.Select(r => r.Scores.Competence).ToList(), level),
                    Conformity: Summaries.Of(mine.Select(r => r.Scores.Conformity).ToList(), level));
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
        var hypervolumes = o.Schedules.ToDictionary(s => s.Name, s => Summaries.Of(runs.Where(r => r.Schedule == s.Name)
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
        if (!_options.Schedules.Any(s => s.Name == first) || !_options.Schedules.Any(s => s.Name == second)) return null;
        var a = runs.Where(r => r.Schedule == first).OrderBy(r => r.Seed).ToList();
        var b = runs.Where(r => r.Schedule == second).OrderBy(r => r.Seed).ToList();
        return new PairedComparison(first, second,
            Summaries.Of(a.Zip(b, (x, y) => x.Scores.Competence - y.Scores.Competence).ToList(), _options.Level),
            Summaries.Of(a.Zip(b, (x, y) => x.Scores.Conformity - y.Scores.Conformity).ToList(), _options.Level));
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
