using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Superalign.Data;
using Superalign.Experiments.Metrics;
using Superalign.Objectives.Competence;
using Superalign.Optimization;
using Superalign.Students;
using Superalign.Supervision;
using Superalign.Experiments.Tasks;
using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

/// <summary>Which supervisor trained the student of a <see cref="WeakToStrongRow"/>.</summary>
public enum SupervisionVariant
{
    /// <summary>One weak model's soft labels (the protocol of Burns et al. 2023).</summary>
    Single,

    /// <summary>The combined soft labels of several diverse weak models (<see cref="EnsembleSupervisor"/>).</summary>
    Ensemble,
}

/// <summary>
/// Options of <see cref="WeakToStrong"/>; validated when the protocol is constructed (an invalid value throws
/// <see cref="ArgumentOutOfRangeException"/> naming the option).
/// </summary>
public sealed record WeakToStrongOptions
{
    /// <summary>The built-in task (<see cref="RepresentationTask"/>); ignored when a <see cref="WeakToStrongSetup"/> is given.</summary>
    public RepresentationTaskOptions Task { get; init; } = new();

    /// <summary>Trunks of the weak models on the built-in task (linear probes over them). At least one, no repeats.</summary>
    public IReadOnlyList<TrunkSpec> WeakTrunks { get; init; } = TrunkSpec.WeakLadder;

    /// <summary>Trunks of the strong students and ceilings on the built-in task. At least one, no repeats.</summary>
    public IReadOnlyList<TrunkSpec> StrongTrunks { get; init; } = TrunkSpec.StrongLadder;

    /// <summary>Training examples drawn from the built-in task (split 50/50 per seed). At least 4. Default 4000.</summary>
    public int TrainSize { get; init; } = 4000;

    /// <summary>Test examples drawn from the built-in task. At least 10. Default 5000.</summary>
    public int TestSize { get; init; } = 5000;

    /// <summary>
    /// One repetition per seed: the seed fixes the 50/50 split, the batch order and each model's initialisation.
    /// At least one, no repeats. Default 0, 1, 2.
    /// </summary>
    public IReadOnlyList<int> Seeds { get; init; } = [0, 1, 2];

    /// <summary>
    /// Competence loss of the student on the weak labels: a name of <see cref="CompetenceObjectives.Names"/>, e.g.
    /// <c>xent</c> (soft cross-entropy, default) or <c>logconf</c> (the auxiliary confidence loss). The weak model and
    /// the ceiling always train with <c>ce</c> on ground truth.
    /// </summary>
    public string Loss { get; init; } = "xent";

    /// <summary>Optimizer updates of every training (weak, student, ceiling). At least 1. Default 400.</summary>
    public int Steps { get; init; } = 400;

    /// <summary>Peak AdamW learning rate (cosine decay to zero, no warm-up). Finite and &gt; 0. Default 1e-2.</summary>
    public double LearningRate { get; init; } = 1e-2;

    /// <summary>Examples per batch. At least 1. Default 64.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>
    /// A (weak, strong, seed) row enters PGR medians and means only when <c>ceiling − weak &gt; MinimumGap</c> (the
    /// exclusion rule of <see cref="PerformanceGapRecovered.Compute"/>). Finite and &gt;= 0. Default 0.
    /// </summary>
    public double MinimumGap { get; init; }

    /// <summary>Also train students on an ensemble of diverse weak models (rows with <see cref="SupervisionVariant.Ensemble"/>).</summary>
    public bool Ensemble { get; init; }

    /// <summary>
    /// Weak models per ensemble: member <c>k</c> of a weak model is its factory called with member index <c>k</c>; on
    /// the built-in task, the trunk of the same size with seed <c>+k</c> (separately pretrained). Member 0 is the single
    /// weak supervisor. At least 2. Default 3.
    /// </summary>
    public int EnsembleMembers { get; init; } = 3;

    /// <summary>How the ensemble combines its members' soft labels. Default <see cref="EnsembleCombination.Mean"/>.</summary>
    public EnsembleCombination EnsembleCombination { get; init; } = EnsembleCombination.Mean;

    /// <summary>Resamples of the paired bootstrap interval of each PGR. At least 1. Default 1000.</summary>
    public int BootstrapResamples { get; init; } = 1000;

    /// <summary>Coverage of the bootstrap and t intervals, in (0, 1). Default 0.95.</summary>
    public double ConfidenceLevel { get; init; } = 0.95;

    /// <summary>Device of the built-in task's models: <c>auto</c>, <c>cpu</c>, <c>cuda</c>, <c>cuda:1</c>. Default <c>auto</c>.</summary>
    public string Device { get; init; } = "auto";

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        const string owner = nameof(WeakToStrongOptions);
        if (Task is null) throw new ArgumentOutOfRangeException(nameof(Task), $"{owner}.{nameof(Task)} must not be null.");
        Task.Validate();
        CheckTrunks(WeakTrunks, nameof(WeakTrunks));
        CheckTrunks(StrongTrunks, nameof(StrongTrunks));
        ProtocolCheck.AtLeast(TrainSize, 4, nameof(TrainSize), owner);
        ProtocolCheck.AtLeast(TestSize, 10, nameof(TestSize), owner);
        ProtocolCheck.NotEmpty(Seeds, nameof(Seeds), owner);
        ProtocolCheck.Distinct(Seeds, nameof(Seeds), owner);
        ProtocolCheck.CompetenceLoss(Loss, nameof(Loss), owner);
        ProtocolCheck.AtLeast(Steps, 1, nameof(Steps), owner);
        ProtocolCheck.Positive(LearningRate, nameof(LearningRate), owner);
        ProtocolCheck.AtLeast(BatchSize, 1, nameof(BatchSize), owner);
        if (!(double.IsFinite(MinimumGap) && MinimumGap >= 0))
            throw new ArgumentOutOfRangeException(nameof(MinimumGap), MinimumGap, $"{owner}.{nameof(MinimumGap)} must be finite and >= 0; got {MinimumGap}.");
        ProtocolCheck.AtLeast(EnsembleMembers, 2, nameof(EnsembleMembers), owner);
        if (!Enum.IsDefined(EnsembleCombination))
            throw new ArgumentOutOfRangeException(nameof(EnsembleCombination), EnsembleCombination,
                $"{owner}.{nameof(EnsembleCombination)} must be one of {string.Join(", ", Enum.GetNames<EnsembleCombination>())}.");
        ProtocolCheck.AtLeast(BootstrapResamples, 1, nameof(BootstrapResamples), owner);
        ProtocolCheck.Fraction(ConfidenceLevel, nameof(ConfidenceLevel), owner);
        if (string.IsNullOrWhiteSpace(Device))
            throw new ArgumentOutOfRangeException(nameof(Device), Device, $"{owner}.{nameof(Device)} must name a device (auto, cpu, cuda, cuda:N).");
    }

    private static void CheckTrunks(IReadOnlyList<TrunkSpec>? trunks, string option)
    {
        const string owner = nameof(WeakToStrongOptions);
        ProtocolCheck.NotEmpty(trunks, option, owner);
        foreach (var spec in trunks!)
        {
            if (spec is null) throw new ArgumentOutOfRangeException(option, $"{owner}.{option} must not hold null.");
            try
            {
                spec.Validate();
            }
            catch (ArgumentOutOfRangeException e)
            {
                throw new ArgumentOutOfRangeException(option, $"{owner}.{option}: {e.Message}");
            }
        }
        ProtocolCheck.Distinct(trunks, option, owner);
    }
}

/// <summary>What the protocol asks a model factory for.</summary>
/// <param name="Seed">The protocol seed of the repetition (use it to seed initial weights).</param>
/// <param name="Member">
/// The ensemble member index: 0 for the single weak model, the student and the ceiling; 1, 2, … for the further
/// members of a weak ensemble, which should differ from member 0 (another initialisation, trunk or architecture).
/// </param>
public readonly record struct ModelRequest(int Seed, int Member);

/// <summary>A model the protocol can train: a name for reports and a factory of fresh, untrained students.</summary>
/// <param name="Name">Name used in rows and tables.</param>
/// <param name="Create">
/// Returns a new student for each call (the protocol trains and disposes it). Its inputs must have the data's feature
/// width and its classes the data's class count.
/// </param>
public sealed record WeakToStrongModel(string Name, Func<ModelRequest, IClassifierStudent> Create);

/// <summary>
/// Your own data and models for <see cref="WeakToStrong"/>: a labeled training set (split 50/50 per seed), a labeled
/// test set, the weak models and the strong models.
/// </summary>
public sealed class WeakToStrongSetup
{
    /// <summary>Checks and stores the setup.</summary>
    /// <param name="train">Training examples (e.g. from <see cref="DataFiles.ReadClassificationCsv"/>); at least 4.</param>
    /// <param name="test">Test examples with the same feature width.</param>
    /// <param name="weak">Weak models (at least one, distinct names).</param>
    /// <param name="strong">Strong models (at least one, distinct names).</param>
    /// <exception cref="ArgumentException">The tables disagree, or a list is empty or repeats a name.</exception>
    public WeakToStrongSetup(ClassificationTable train, ClassificationTable test, IReadOnlyList<WeakToStrongModel> weak, IReadOnlyList<WeakToStrongModel> strong)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        ArgumentNullException.ThrowIfNull(weak);
        ArgumentNullException.ThrowIfNull(strong);
        if (train.Features.dim() != 2 || train.Features.shape[0] < 4)
            throw new ArgumentException($"train must hold features [N, F] with N >= 4; got [{string.Join(", ", train.Features.shape)}].", nameof(train));
        if (test.Features.dim() != 2 || test.Features.shape[0] < 1 || test.Features.shape[1] != train.Features.shape[1])
            throw new ArgumentException($"test must hold features [M, {train.Features.shape[1]}] like train; got [{string.Join(", ", test.Features.shape)}].", nameof(test));
        CheckModels(weak, nameof(weak));
        CheckModels(strong, nameof(strong));
        Train = train;
        Test = test;
        Weak = weak.ToArray();
        Strong = strong.ToArray();
        Classes = Math.Max(Math.Max(train.Classes, test.Classes), 2);
    }

    /// <summary>The training examples.</summary>
    public ClassificationTable Train { get; }

    /// <summary>The test examples.</summary>
    public ClassificationTable Test { get; }

    /// <summary>The weak models.</summary>
    public IReadOnlyList<WeakToStrongModel> Weak { get; }

    /// <summary>The strong models.</summary>
    public IReadOnlyList<WeakToStrongModel> Strong { get; }

    /// <summary>Number of classes: the larger of the two tables' counts.</summary>
    public int Classes { get; }

    private static void CheckModels(IReadOnlyList<WeakToStrongModel> models, string parameter)
    {
        if (models.Count == 0) throw new ArgumentException($"{parameter} must hold at least one model.", parameter);
        if (models.Any(m => m is null || m.Create is null || string.IsNullOrWhiteSpace(m.Name)))
            throw new ArgumentException($"{parameter} must hold models with a name and a factory.", parameter);
        if (models.Select(m => m.Name).Distinct().Count() != models.Count)
            throw new ArgumentException($"{parameter} must not repeat a name; got [{string.Join(", ", models.Select(m => m.Name))}].", parameter);
    }
}

/// <summary>One (supervisor, strong model, seed) result of the weak-to-strong protocol, measured on the test set.</summary>
/// <param name="Variant">Single weak model or ensemble of weak models.</param>
/// <param name="Weak">Name of the weak model (for an ensemble: of its member 0).</param>
/// <param name="Strong">Name of the strong model.</param>
/// <param name="Seed">The protocol seed.</param>
/// <param name="WeakAccuracy">Test accuracy of the supervisor (the weak model, or the ensemble's combined labels).</param>
/// <param name="StudentAccuracy">Test accuracy of the strong student trained on the supervisor's soft labels.</param>
/// <param name="CeilingAccuracy">Test accuracy of the strong model trained on ground truth (the same half of the data).</param>
/// <param name="Pgr">Performance gap recovered, <c>(student − weak) / (ceiling − weak)</c>; NaN when excluded.</param>
/// <param name="ExclusionReason">Why the row is excluded from PGR aggregates (the ceiling does not beat the weak model by more than the minimum gap), or null.</param>
/// <param name="PgrInterval">Paired bootstrap interval of the PGR over test examples.</param>
/// <param name="Agreement">Fraction of test examples on which the student predicts the supervisor's class.</param>
/// <param name="WeakErrors">The supervisor's test errors that the student copies, corrects or replaces.</param>
/// <param name="WeakEce">Expected calibration error of the supervisor's probabilities.</param>
/// <param name="StudentEce">Expected calibration error of the student.</param>
/// <param name="CeilingEce">Expected calibration error of the ceiling.</param>
/// <param name="MemberDisagreement">For an ensemble: how much its members disagree on the test set; otherwise null.</param>
public sealed record WeakToStrongRow(
    SupervisionVariant Variant,
    string Weak,
    string Strong,
    int Seed,
    double WeakAccuracy,
    double StudentAccuracy,
    double CeilingAccuracy,
    double Pgr,
    string? ExclusionReason,
    BootstrapInterval PgrInterval,
    double Agreement,
    WeakErrorAnalysis WeakErrors,
    double WeakEce,
    double StudentEce,
    double CeilingEce,
    EnsembleDisagreement? MemberDisagreement)
{
    /// <summary>Whether the row is left out of PGR aggregates.</summary>
    public bool Excluded => ExclusionReason is not null;
}

/// <summary>One (variant, weak, strong) pair over seeds.</summary>
/// <param name="Variant">Single weak model or ensemble.</param>
/// <param name="Weak">The weak model.</param>
/// <param name="Strong">The strong model.</param>
/// <param name="Included">Seeds whose PGR is defined (the ceiling beats the weak model).</param>
/// <param name="Excluded">Seeds left out by the exclusion rule.</param>
/// <param name="MedianPgr">Median PGR over the included seeds (NaN when none).</param>
/// <param name="Pgr">Mean PGR over the included seeds with a Student-t interval; null when none is included.</param>
/// <param name="WeakAccuracy">Mean supervisor accuracy over all seeds.</param>
/// <param name="StudentAccuracy">Mean student accuracy over all seeds.</param>
/// <param name="CeilingAccuracy">Mean ceiling accuracy over all seeds.</param>
public sealed record WeakToStrongPairSummary(
    SupervisionVariant Variant, string Weak, string Strong, int Included, int Excluded, double MedianPgr,
    SummaryStatistics? Pgr, double WeakAccuracy, double StudentAccuracy, double CeilingAccuracy);

/// <summary>One strong model over seeds: per seed, the mean PGR over the weak models whose row is included.</summary>
/// <param name="Variant">Single weak model or ensemble.</param>
/// <param name="Strong">The strong model.</param>
/// <param name="Seeds">Seeds with at least one included row.</param>
/// <param name="Pgr">Mean over those seeds with a Student-t interval; null when no seed has an included row.</param>
public sealed record WeakToStrongSizeSummary(SupervisionVariant Variant, string Strong, int Seeds, SummaryStatistics? Pgr);

/// <summary>The headline number of a variant: the median PGR over every included (weak, strong, seed) row.</summary>
/// <param name="Variant">Single weak model or ensemble.</param>
/// <param name="MedianPgr">Median PGR (NaN when every row is excluded).</param>
/// <param name="Included">Rows in the median.</param>
/// <param name="Excluded">Rows left out by the exclusion rule.</param>
public sealed record WeakToStrongVariantSummary(SupervisionVariant Variant, double MedianPgr, int Included, int Excluded);

/// <summary>How many examples each role saw.</summary>
/// <param name="Train">Training examples before the split.</param>
/// <param name="WeakTraining">Half A: the weak models' ground-truth training set.</param>
/// <param name="StrongTraining">Half B: weakly labeled for the student, ground truth for the ceiling.</param>
/// <param name="Test">Test examples every metric is computed on.</param>
/// <param name="Features">Input width.</param>
/// <param name="Classes">Number of classes.</param>
public sealed record WeakToStrongSampleSizes(int Train, int WeakTraining, int StrongTraining, int Test, int Features, int Classes);

/// <summary>Everything a weak-to-strong run measured; written with <see cref="ProtocolJson.Write{T}"/>.</summary>
/// <param name="Options">The options of the run.</param>
/// <param name="Data">
/// <c>representation-task</c> for the built-in task, <c>custom</c> for a <see cref="WeakToStrongSetup"/> (then the
/// task, trunk and size options were not used).
/// </param>
/// <param name="Seeds">The seeds, in order.</param>
/// <param name="SampleSizes">Example counts.</param>
/// <param name="Trunks">For the built-in task, how well each pretrained trunk learned h* (empty otherwise).</param>
/// <param name="Rows">One row per (variant, weak, strong, seed).</param>
/// <param name="Pairs">Per (variant, weak, strong): over seeds.</param>
/// <param name="StrongSizes">Per (variant, strong): mean PGR over seeds with a t-interval.</param>
/// <param name="Variants">Per variant: median PGR over rows.</param>
/// <param name="Device">The device the built-in task ran on (for a custom setup: where its models were).</param>
/// <param name="WallSeconds">Wall time of the run.</param>
public sealed record WeakToStrongResult(
    WeakToStrongOptions Options,
    string Data,
    IReadOnlyList<int> Seeds,
    WeakToStrongSampleSizes SampleSizes,
    IReadOnlyList<TrunkDiagnostics> Trunks,
    IReadOnlyList<WeakToStrongRow> Rows,
    IReadOnlyList<WeakToStrongPairSummary> Pairs,
    IReadOnlyList<WeakToStrongSizeSummary> StrongSizes,
    IReadOnlyList<WeakToStrongVariantSummary> Variants,
    string Device,
    double WallSeconds);

/// <summary>
/// The weak-to-strong protocol (Burns et al. 2023): for every (weak, strong) pair and seed, (1) split the training
/// data 50/50 into A and B; (2) train the weak model on A with ground truth; (3) label B with the weak model's soft
/// probabilities; (4) train the strong student on B with those labels; (5) train the strong ceiling on B with ground
/// truth; then evaluate all three on the test set. Reports accuracies, the performance gap recovered (PGR, with the
/// exclusion rule and a paired bootstrap interval), student–supervisor agreement, which weak errors the student copies
/// or corrects, calibration, and aggregates (median PGR, per-size mean PGR with a t-interval over seeds). Optionally
/// the same with an ensemble of diverse weak models as the supervisor.
/// </summary>
/// <remarks>
/// <para>Without a <see cref="WeakToStrongSetup"/> it runs on the built-in <see cref="RepresentationTask"/>: weak and
/// strong models are <see cref="LinearProbe"/>s over pretrained frozen trunks of the sizes in the options.</para>
/// <para>A weak model is trained once per seed and reused for every strong model, a ceiling once per seed and reused
/// for every weak model; only the student is trained per pair. Every training runs the
/// <see cref="AlternatingOptimizer"/> with <see cref="AlternationSchedules.CompetenceOnly"/>.</para>
/// </remarks>
public sealed class WeakToStrong
{
    /// <summary>The protocol's name in progress reports.</summary>
    public const string ProtocolName = "weak-to-strong";

    private const long TrainStream = 1, TestStream = 2;
    private readonly WeakToStrongSetup? _setup;
    private readonly ILogger<WeakToStrong> _logger;

    /// <summary>The protocol on the built-in <see cref="RepresentationTask"/>.</summary>
    /// <param name="options">Options (validated here); null takes the defaults.</param>
    /// <param name="logger">Optional logger.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    public WeakToStrong(WeakToStrongOptions? options = null, ILogger<WeakToStrong>? logger = null)
    {
        Options = options ?? new WeakToStrongOptions();
        Options.Validate();
        _logger = logger ?? NullLogger<WeakToStrong>.Instance;
    }

    /// <summary>The protocol on your own data and models.</summary>
    /// <param name="setup">Data and models.</param>
    /// <param name="options">
    /// Options (validated here); the task, trunk and size options are not used. Null takes the defaults.
    /// </param>
    /// <param name="logger">Optional logger.</param>
    public WeakToStrong(WeakToStrongSetup setup, WeakToStrongOptions? options = null, ILogger<WeakToStrong>? logger = null)
        : this(options, logger)
    {
        _setup = setup ?? throw new ArgumentNullException(nameof(setup));
    }

    /// <summary>The options in force.</summary>
    public WeakToStrongOptions Options { get; }

    /// <summary>Runs the protocol.</summary>
    /// <param name="progress">Receives a report after each trunk pretraining and each model training.</param>
    /// <param name="cancellationToken">Checked between and during trainings.</param>
    /// <exception cref="OperationCanceledException">The run was cancelled.</exception>
    public WeakToStrongResult Run(IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var watch = Stopwatch.StartNew();
        if (_setup is not null)
            return RunCore(_setup, "custom", [], null, progress, 0, watch, cancellationToken);

        var device = Devices.Parse(Options.Device);
        using var task = new RepresentationTask(Options.Task, device);
        using var scope = NewDisposeScope();
        var train = task.Sample(Options.TrainSize, TrainStream);
        var test = task.Sample(Options.TestSize, TestStream);
        int members = Options.Ensemble ? Options.EnsembleMembers : 1;
        var trunks = Options.WeakTrunks.SelectMany(w => Enumerable.Range(0, members).Select(k => Member(w, k)))
            .Concat(Options.StrongTrunks).Distinct().ToList();
        int total = trunks.Count + TrainingsPerSeed() * Options.Seeds.Count;
        var diagnostics = new List<TrunkDiagnostics>();
        for (int i = 0; i < trunks.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var d = task.Trunk(trunks[i]).Diagnostics;
            diagnostics.Add(d);
            _logger.LogInformation("Pretrained trunk {Trunk} in {Seconds:F1} s: auxiliary R² {Aux:F3}, representation R² {Rep:F3}",
                d.Spec.Name, d.PretrainSeconds, d.AuxiliaryR2, d.RepresentationR2);
            progress?.Report(new ProtocolProgress(ProtocolName, $"trunk {d.Spec.Name} pretrained", i + 1, total));
        }

        var setup = new WeakToStrongSetup(train, test,
            Options.WeakTrunks.Select(w => new WeakToStrongModel(w.Name, r => task.Probe(Member(w, r.Member)))).ToList(),
            Options.StrongTrunks.Select(s => new WeakToStrongModel(s.Name, _ => task.Probe(s))).ToList());
        return RunCore(setup, "representation-task", diagnostics, device.ToString(), progress, trunks.Count, watch, cancellationToken);
    }

    private static TrunkSpec Member(TrunkSpec spec, int member) => member == 0 ? spec : spec with { Seed = spec.Seed + member };

    private int TrainingsPerSeed(int? weak = null, int? strong = null)
    {
        int w = weak ?? Options.WeakTrunks.Count, s = strong ?? Options.StrongTrunks.Count;
        int members = Options.Ensemble ? Options.EnsembleMembers : 1;
        int variants = Options.Ensemble ? 2 : 1;
        return w * members + s + w * s * variants;
    }

    private WeakToStrongResult RunCore(WeakToStrongSetup setup, string data, IReadOnlyList<TrunkDiagnostics> trunks, string? device,
        IProgress<ProtocolProgress>? progress, int done, Stopwatch watch, CancellationToken ct)
    {
        // A custom setup's device is the one its factories put the models on.
        IClassifierStudent Create(WeakToStrongModel model, ModelRequest request)
        {
            var student = model.Create(request) ?? throw new InvalidOperationException($"The factory of model '{model.Name}' returned null.");
            device ??= student.Device.ToString();
            return student;
        }

        int n = (int)setup.Train.Features.shape[0];
        int half = n / 2;
        int total = done + TrainingsPerSeed(setup.Weak.Count, setup.Strong.Count) * Options.Seeds.Count;
        var testLabels = ClassificationAccuracy.Predictions(setup.Test.Labels);
        var rows = new List<WeakToStrongRow>();
        foreach (int seed in Options.Seeds)
        {
            ct.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var (a, b) = Split(n, seed);
            var xa = setup.Train.Features.index_select(0, a.to(setup.Train.Features.device));
            var ya = setup.Train.Labels.index_select(0, a.to(setup.Train.Labels.device));
            var xb = setup.Train.Features.index_select(0, b.to(setup.Train.Features.device));
            var yb = setup.Train.Labels.index_select(0, b.to(setup.Train.Labels.device));

            void Report(string stage)
            {
                done++;
                progress?.Report(new ProtocolProgress(ProtocolName, $"seed {seed}: {stage}", done, total));
            }

            // Steps 1–3: weak models on A with ground truth; their soft labels on B and on the test set.
            var supervisors = new List<(WeakToStrongModel Model, WeakLabels Single, WeakLabels? Ensemble)>();
            var owned = new List<IStudent>();
            try
            {
                foreach (var weak in setup.Weak)
                {
                    int members = Options.Ensemble ? Options.EnsembleMembers : 1;
                    var trained = new List<IClassifierStudent>();
                    for (int k = 0; k < members; k++)
                    {
                        var model = Create(weak, new ModelRequest(seed, k));
                        owned.Add(model);
                        Train(model, xa, ya, null, CompetenceObjectives.Create("ce"), seed, ct);
                        trained.Add(model);
                        Report($"weak {weak.Name}{(k == 0 ? "" : $" member {k}")} trained on A");
                    }
                    var single = Supervise(new ModelSupervisor(trained[0], name: weak.Name), xb, setup.Test, null);
                    WeakLabels? ensemble = null;
                    if (Options.Ensemble)
                    {
                        var ens = new EnsembleSupervisor(trained.Select(m => (ILabelSupervisor)new ModelSupervisor(m)), Options.EnsembleCombination);
                        ensemble = Supervise(ens, xb, setup.Test, ens.Disagreement(setup.Test.Features));
                    }
                    supervisors.Add((weak, single, ensemble));
                }

                // Step 4 (ceiling): strong models on B with ground truth.
                var ceilings = new List<Evaluation>();
                foreach (var strong in setup.Strong)
                {
                    var ceiling = Create(strong, new ModelRequest(seed, 0));
                    owned.Add(ceiling);
                    Train(ceiling, xb, yb, null, CompetenceObjectives.Create("ce"), seed, ct);
                    ceilings.Add(Evaluate(ceiling, setup.Test));
                    Report($"ceiling {strong.Name} trained on B");
                }

                // Step 5 (students): strong models on B with the weak soft labels; evaluate all three.
                for (int w = 0; w < supervisors.Count; w++)
                {
                    var (weak, single, ensemble) = supervisors[w];
                    for (int s = 0; s < setup.Strong.Count; s++)
                    {
                        foreach (var (variant, supervision) in new[] { (SupervisionVariant.Single, single), (SupervisionVariant.Ensemble, ensemble) })
                        {
                            if (supervision is null) continue;
                            using var student = Create(setup.Strong[s], new ModelRequest(seed, 0));
                            Train(student, xb, supervision.LabelsB.argmax(1), supervision.LabelsB, CompetenceObjectives.Create(Options.Loss), seed, ct);
                            var row = Row(variant, weak.Name, setup.Strong[s].Name, seed, testLabels, supervision, Evaluate(student, setup.Test), ceilings[s], rows.Count);
                            rows.Add(row);
                            _logger.LogInformation(
                                "seed {Seed} {Variant} {Weak} -> {Strong}: weak {WeakAcc:P1}, student {StudentAcc:P1}, ceiling {CeilingAcc:P1}, PGR {Pgr:F2}",
                                seed, variant, weak.Name, setup.Strong[s].Name, row.WeakAccuracy, row.StudentAccuracy, row.CeilingAccuracy, row.Pgr);
                            Report($"student {setup.Strong[s].Name} trained on {(variant == SupervisionVariant.Single ? weak.Name : $"ensemble of {weak.Name}")} labels");
                        }
                    }
                }
            }
            finally
            {
                foreach (var model in owned) model.Dispose();
            }
        }
        return new WeakToStrongResult(Options, data, Options.Seeds.ToArray(),
            new WeakToStrongSampleSizes(n, half, n - half, testLabels.Length, (int)setup.Train.Features.shape[1], setup.Classes),
            trunks, rows, PairSummaries(rows), SizeSummaries(rows), VariantSummaries(rows), device ?? "none", watch.Elapsed.TotalSeconds);
    }

    /// <summary>A seeded 50/50 split of <paramref name="n"/> rows: A gets the first ⌊n/2⌋ of a shuffled order, B the rest.</summary>
    internal static (Tensor A, Tensor B) Split(int n, int seed)
    {
        var order = Enumerable.Range(0, n).Select(i => (long)i).ToArray();
        new Random(seed).Shuffle(order);
        int half = n / 2;
        return (tensor(order[..half]), tensor(order[half..]));
    }

    private void Train(IClassifierStudent model, Tensor features, Tensor labels, Tensor? softLabels, ICompetenceObjective objective, int seed, CancellationToken ct)
    {
        var data = SupervisedDataset.ForClassification(features, labels, softLabels);
        var options = new AlternatingOptimizerOptions
        {
            TotalSteps = Options.Steps,
            Schedule = AlternationSchedules.CompetenceOnly(),
            LearningRate = Options.LearningRate,
            WarmupSteps = 0,
            Decay = LearningRateDecay.Cosine,
            LogEvery = 0,
        };
        using var optimizer = new AlternatingOptimizer(model, objective, null, options);
        optimizer.Train(data.Batches(Options.BatchSize, seed), null, null, ct);
        model.SetTraining(false);
    }

    /// <summary>A supervisor's soft labels on B (kept as a tensor for training) and its evaluation on the test set.</summary>
    private sealed record WeakLabels(Tensor LabelsB, Evaluation Test, EnsembleDisagreement? Disagreement);

    /// <summary>What the metrics need of a model's test predictions, on the CPU.</summary>
    private sealed record Evaluation(int[] Predictions, double[] Correct, double Accuracy, double Ece);

    private static WeakLabels Supervise(ILabelSupervisor supervisor, Tensor xb, ClassificationTable test, EnsembleDisagreement? disagreement)
    {
        var labels = supervisor.Label(xb);
        using var scope = NewDisposeScope();
        return new WeakLabels(labels, Score(supervisor.Label(test.Features), test.Labels), disagreement);
    }

    private static Evaluation Evaluate(IClassifierStudent model, ClassificationTable test)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        model.SetTraining(false);
        var x = test.Features.to(model.Device);
        return Score(model.ClassLogits(x).softmax(1), test.Labels);
    }

    private static Evaluation Score(Tensor probabilities, Tensor labels)
    {
        var predictions = ClassificationAccuracy.Predictions(probabilities);
        var truth = ClassificationAccuracy.Predictions(labels);
        var correct = ClassificationAccuracy.Correct(predictions, truth);
        return new Evaluation(predictions, correct, correct.Average(), Calibration.ExpectedCalibrationError(probabilities, labels));
    }

    private WeakToStrongRow Row(SupervisionVariant variant, string weak, string strong, int seed, int[] labels,
        WeakLabels supervision, Evaluation student, Evaluation ceiling, int index)
    {
        var w = supervision.Test;
        var pgr = PerformanceGapRecovered.Compute(w.Accuracy, student.Accuracy, ceiling.Accuracy, Options.MinimumGap);
        var interval = Bootstrap.Pgr(w.Correct, student.Correct, ceiling.Correct, Options.MinimumGap, Options.ConfidenceLevel,
            Options.BootstrapResamples, seed: unchecked(seed * 7919 + index));
        return new WeakToStrongRow(variant, weak, strong, seed, w.Accuracy, student.Accuracy, ceiling.Accuracy,
            pgr.Value, pgr.ExclusionReason, interval,
            Agreement.Rate(student.Predictions, w.Predictions),
            Agreement.WeakErrors(labels, w.Predictions, student.Predictions),
            w.Ece, student.Ece, ceiling.Ece, supervision.Disagreement);
    }

    private IReadOnlyList<WeakToStrongPairSummary> PairSummaries(IReadOnlyList<WeakToStrongRow> rows) =>
        rows.GroupBy(r => (r.Variant, r.Weak, r.Strong)).Select(g =>
        {
            var included = g.Where(r => !r.Excluded).Select(r => r.Pgr).ToArray();
            var median = PerformanceGapRecovered.Median(g.Select(r => (r.WeakAccuracy, r.StudentAccuracy, r.CeilingAccuracy)).ToList(), Options.MinimumGap);
            return new WeakToStrongPairSummary(g.Key.Variant, g.Key.Weak, g.Key.Strong, median.Included, median.Excluded, median.Median,
                included.Length == 0 ? null : Summaries.Of(included, Options.ConfidenceLevel),
                g.Average(r => r.WeakAccuracy), g.Average(r => r.StudentAccuracy), g.Average(r => r.CeilingAccuracy));
        }).ToList();

    private IReadOnlyList<WeakToStrongSizeSummary> SizeSummaries(IReadOnlyList<WeakToStrongRow> rows) =>
        rows.GroupBy(r => (r.Variant, r.Strong)).Select(g =>
        {
            var perSeed = g.GroupBy(r => r.Seed)
                .Select(s => s.Where(r => !r.Excluded).Select(r => r.Pgr).ToArray())
                .Where(v => v.Length > 0).Select(v => v.Average()).ToArray();
            return new WeakToStrongSizeSummary(g.Key.Variant, g.Key.Strong, perSeed.Length,
                perSeed.Length == 0 ? null : Summaries.Of(perSeed, Options.ConfidenceLevel));
        }).ToList();

    private IReadOnlyList<WeakToStrongVariantSummary> VariantSummaries(IReadOnlyList<WeakToStrongRow> rows) =>
        rows.GroupBy(r => r.Variant).Select(g =>
        {
            var median = PerformanceGapRecovered.Median(g.Select(r => (r.WeakAccuracy, r.StudentAccuracy, r.CeilingAccuracy)).ToList(), Options.MinimumGap);
            return new WeakToStrongVariantSummary(g.Key, median.Median, median.Included, median.Excluded);
        }).ToList();
}
