using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Superalign.Data;
using Superalign.Experiments.Metrics;
using Superalign.Objectives.Competence;
using Superalign.Optimization;
using Superalign.Students;
using Superalign.Supervision;
using Superalign.Experiments.Tasks;
using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

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
public sealed class WeakToStrong : Protocol<WeakToStrongOptions, WeakToStrongResult>
{
    /// <summary>The protocol's name in progress reports and the catalog.</summary>
    public const string ProtocolName = "weak-to-strong";

    /// <summary>
    /// The <see cref="WeakToStrongOptions.CompetenceLoss"/> that trains the student with
    /// <see cref="LearningToReweightObjective"/> against <see cref="WeakToStrongOptions.TrustedExamples"/> ground-truth
    /// examples of half A.
    /// </summary>
    public const string ReweightLoss = "reweight";

    // Every training of a seed (weak, ceiling, students) sees the same batch order; each row's bootstrap its own stream.
    private const int TrainingStream = 1, BootstrapStream = 2;
    private readonly WeakToStrongSetup? _setup;

    /// <summary>The protocol on the built-in <see cref="RepresentationTask"/>.</summary>
    /// <param name="options">Options (validated here); null takes the defaults.</param>
    /// <param name="loggerFactory">Optional logging.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    public WeakToStrong(WeakToStrongOptions? options = null, ILoggerFactory? loggerFactory = null)
        : base(ProtocolName, options ?? new WeakToStrongOptions(), loggerFactory)
    {
    }

    /// <summary>The protocol on your own data and models.</summary>
    /// <param name="setup">Data and models.</param>
    /// <param name="options">
    /// Options (validated here); the task, trunk and size options are not used. Null takes the defaults.
    /// </param>
    /// <param name="loggerFactory">Optional logging.</param>
    public WeakToStrong(WeakToStrongSetup setup, WeakToStrongOptions? options = null, ILoggerFactory? loggerFactory = null)
        : this(options, loggerFactory)
    {
        _setup = setup ?? throw new ArgumentNullException(nameof(setup));
    }

    /// <inheritdoc />
    /// <remarks>Reports after each trunk pretraining and each model training.</remarks>
    public override WeakToStrongResult Run(IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Run(ProtocolRun.None, progress, cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// One unit per seed (<c>seed-N</c>): every row of the seed. The trunks of the built-in task are pretrained by every
    /// run, units read back or not (they are deterministic, and their diagnostics are part of the result). With a
    /// <see cref="WeakToStrongSetup"/>, the fingerprint does not see your data and models: give the run a
    /// <see cref="ProtocolRun.ExternalInputs"/> that names them, or a directory of its own.
    /// </remarks>
    public override IReadOnlyList<string> Units => Options.Seeds.Select(SeedUnit).ToList();

    /// <inheritdoc />
    /// <remarks>Reports after each trunk pretraining and each model training; a seed read back is one report.</remarks>
    public override WeakToStrongResult Run(ProtocolRun run, IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var watch = Stopwatch.StartNew();
        var seeds = SelectSeeds(run, Options.Seeds);
        var store = OpenStore(run);
        if (_setup is not null)
            return RunCore(_setup, "custom", [], null, seeds, store, run, progress, 0, watch, cancellationToken);
        if (Options.TaskInstancePerSeed)
            return RunInstances(seeds, store, run, progress, watch, cancellationToken);

        using var representation = new RepresentationRun(Options.Task, Options.Device, Options.TrainSize, Options.TestSize);
        var (device, task, train, test) = (representation.Device, representation.Task, representation.Train, representation.Test);
        var trunks = TrunkSpecs();
        int total = trunks.Count + TrainingsPerSeed() * seeds.Count;
        var diagnostics = ClassifierTraining.PretrainTrunks(task, trunks, Stages(progress, total), Logger, cancellationToken);

        var setup = Setup(task, train, test);
        return RunCore(setup, "representation-task", diagnostics, device.ToString(), seeds, store, run, progress, trunks.Count, watch, cancellationToken);
    }

    /// <summary>
    /// <see cref="WeakToStrongOptions.TaskInstancePerSeed"/>: each seed's unit builds its own task instance
    /// (<c>Task.Seed + seed</c>), pretrains its trunks and runs the seed on it; a unit read back pretrains nothing.
    /// </summary>
    private WeakToStrongResult RunInstances(IReadOnlyList<int> seeds, ProtocolUnitStore? store, ProtocolRun run,
        IProgress<ProtocolProgress>? progress, Stopwatch watch, CancellationToken ct)
    {
        var trunks = TrunkSpecs();
        int perSeed = trunks.Count + TrainingsPerSeed();
        var stages = new StageCounter(Name, progress, perSeed * seeds.Count, 0);
        var rows = new List<WeakToStrongRow>();
        var instances = new List<WeakToStrongInstance>();
        string? device = null;
        WeakToStrongSampleSizes? sizes = null;
        foreach (int seed in seeds)
        {
            ct.ThrowIfCancellationRequested();
            long taskSeed = Options.Task.Seed + seed;
            var unit = RunUnit(store, run, SeedUnit(seed), () =>
            {
                using var representation = new RepresentationRun(Options.Task with { Seed = taskSeed }, Options.Device, Options.TrainSize, Options.TestSize);
                var task = representation.Task;
                var diagnostics = ClassifierTraining.PretrainTrunks(task, trunks, stage => stages.Report($"seed {seed}: {stage}"), Logger, ct);
                var setup = Setup(task, representation.Train, representation.Test);
                var data = WithStandardized(setup, s =>
                    RunSeed(s, seed, representation.Device.ToString(), ClassificationAccuracy.Predictions(s.Test.Labels), stages, ct, taskSeed));
                return data with { Trunks = diagnostics };
            }, () => stages.Report($"seed {seed}: read back", perSeed));
            rows.AddRange(unit.Rows);
            instances.Add(new WeakToStrongInstance(seed, taskSeed, unit.Trunks ?? []));
            device ??= unit.Device;
        }
        int n = Options.TrainSize, half = n / 2;
        sizes = new WeakToStrongSampleSizes(n, half, n - half, Options.TestSize, Options.Task.InputDimension, Options.Task.Classes);
        return Result("representation-task", seeds, sizes, [], rows, device ?? "none", watch, instances);
    }

    private List<TrunkSpec> TrunkSpecs()
    {
        int members = Options.Ensemble ? Options.EnsembleMembers : 1;
        return Options.WeakTrunks.SelectMany(w => Enumerable.Range(0, members).Select(k => Member(w, k)))
            .Concat(Options.StrongTrunks).Distinct().ToList();
    }

    private WeakToStrongSetup Setup(RepresentationTask task, ClassificationTable train, ClassificationTable test) =>
        new(train, test,
            Options.WeakTrunks.Select(w => new WeakToStrongModel(w.Name, r => task.Probe(Member(w, r.Member)))).ToList(),
            Options.StrongTrunks.Select(s => new WeakToStrongModel(s.Name, _ => task.Probe(s))).ToList());

    private static TrunkSpec Member(TrunkSpec spec, int member) => member == 0 ? spec : spec with { Seed = spec.Seed + member };

    private int TrainingsPerSeed(int? weak = null, int? strong = null)
    {
        int w = weak ?? Options.WeakTrunks.Count, s = strong ?? Options.StrongTrunks.Count;
        int members = Options.Ensemble ? Options.EnsembleMembers : 1;
        int variants = Options.Ensemble ? 2 : 1;
        return w * members + s + w * s * variants * Options.StudentLosses.Count;
    }

    /// <summary>
    /// A seed's unit: its rows, the device its models were on (a custom setup's factories decide it), and with
    /// <see cref="WeakToStrongOptions.TaskInstancePerSeed"/> the diagnostics of its instance's trunks.
    /// </summary>
    internal sealed record SeedUnitData(IReadOnlyList<WeakToStrongRow> Rows, string? Device, IReadOnlyList<TrunkDiagnostics>? Trunks = null);

    private T WithStandardized<T>(WeakToStrongSetup setup, Func<WeakToStrongSetup, T> body)
    {
        if (!Options.StandardizeFeatures) return body(setup);
        // Fitted on the training table only; the test table gets the training statistics.
        var standardizer = FeatureStandardizer.Fit(setup.Train);
        var (train, test) = (standardizer.Transform(setup.Train), standardizer.Transform(setup.Test));
        try
        {
            return body(new WeakToStrongSetup(train, test, setup.Weak, setup.Strong));
        }
        finally
        {
            train.Features.Dispose();
            test.Features.Dispose();
        }
    }

    private WeakToStrongResult RunCore(WeakToStrongSetup setup, string data, IReadOnlyList<TrunkDiagnostics> trunks, string? device,
        IReadOnlyList<int> seeds, ProtocolUnitStore? store, ProtocolRun run, IProgress<ProtocolProgress>? progress, int done, Stopwatch watch, CancellationToken ct)
        => WithStandardized(setup, s => RunCoreOn(s, data, trunks, device, seeds, store, run, progress, done, watch, ct));

    private WeakToStrongResult RunCoreOn(WeakToStrongSetup setup, string data, IReadOnlyList<TrunkDiagnostics> trunks, string? device,
        IReadOnlyList<int> seeds, ProtocolUnitStore? store, ProtocolRun run, IProgress<ProtocolProgress>? progress, int done, Stopwatch watch, CancellationToken ct)
    {
        int n = (int)setup.Train.Features.shape[0];
        int half = n / 2;
        int perSeed = TrainingsPerSeed(setup.Weak.Count, setup.Strong.Count);
        var stages = new StageCounter(Name, progress, done + perSeed * seeds.Count, done);
        var testLabels = ClassificationAccuracy.Predictions(setup.Test.Labels);
        var rows = new List<WeakToStrongRow>();
        foreach (int seed in seeds)
        {
            ct.ThrowIfCancellationRequested();
            long? taskSeed = data == "custom" ? null : Options.Task.Seed;
            var unit = RunUnit(store, run, SeedUnit(seed), () => RunSeed(setup, seed, device, testLabels, stages, ct, taskSeed),
                () => stages.Report($"seed {seed}: read back", perSeed));
            rows.AddRange(unit.Rows);
            device ??= unit.Device;
        }
        return Result(data, seeds, new WeakToStrongSampleSizes(n, half, n - half, testLabels.Length, (int)setup.Train.Features.shape[1], setup.Classes),
            trunks, rows, device ?? "none", watch, []);
    }

    private WeakToStrongResult Result(string data, IReadOnlyList<int> seeds, WeakToStrongSampleSizes sizes, IReadOnlyList<TrunkDiagnostics> trunks, List<WeakToStrongRow> rows,
        string device, Stopwatch watch, IReadOnlyList<WeakToStrongInstance> instances) =>
        new(Options, data, seeds.ToArray(), sizes, trunks, rows, PairSummaries(rows), SizeSummaries(rows), VariantSummaries(rows),
            device, watch.Elapsed.TotalSeconds, instances,
            WeakToStrongStatistics.LossDifferences(rows, Options.StudentLosses.Select(l => l.Trim()).ToList(), Options.ConfidenceLevel),
            WeakToStrongStatistics.SizeEffects(rows, Options.ConfidenceLevel),
            WeakToStrongStatistics.MisfitSummaries(rows, Options.ConfidenceLevel),
            WeakToStrongStatistics.EnsembleComparisons(rows, Options.ConfidenceLevel));

    private SeedUnitData RunSeed(WeakToStrongSetup setup, int seed, string? device, int[] testLabels, StageCounter stages, CancellationToken ct, long? taskSeed)
    {
        // A custom setup's device is the one its factories put the models on.
        IClassifierStudent Create(WeakToStrongModel model, ModelRequest request)
        {
            var student = model.Create(request) ?? throw new InvalidOperationException($"The factory of model '{model.Name}' returned null.");
            device ??= student.Device.ToString();
            return student;
        }

        // Each row's bootstrap stream is its index in the run of all seeds, so a seed's rows do not depend on which seeds ran before it.
        int variants = Options.Ensemble ? 2 : 1;
        var losses = Options.StudentLosses;
        int firstRow = Options.Seeds.ToList().IndexOf(seed) * setup.Weak.Count * setup.Strong.Count * variants * losses.Count;
        var rows = new List<WeakToStrongRow>();
        using var scope = NewDisposeScope();
        var (xa, ya, xb, yb) = ClassifierTraining.Halves(setup.Train, seed);

        void Report(string stage) => stages.Report($"seed {seed}: {stage}");

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
                    Train(model, xa, ya, null, CompetenceObjectives.Create("ce"), Options.WeakTraining, seed, ct);
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
            var ceilings = new List<ClassifierEvaluation>();
            foreach (var strong in setup.Strong)
            {
                var ceiling = Create(strong, new ModelRequest(seed, 0));
                owned.Add(ceiling);
                Train(ceiling, xb, yb, null, CompetenceObjectives.Create("ce"), Options.CeilingTraining, seed, ct);
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
                        foreach (string loss in losses)
                        {
                            using var student = Create(setup.Strong[s], new ModelRequest(seed, 0));
                            var (xs, soft) = StudentData(xb, supervision.LabelsB, xa, ya, setup.Classes, loss);
                            Train(student, xs, soft.argmax(1), soft, StudentObjective(student, xa, ya, loss), Options.StudentTraining, seed, ct);
                            using var studentProbabilities = ClassifierTraining.Probabilities(student, setup.Test.Features);
                            var row = Row(variant, weak.Name, setup.Strong[s].Name, seed, testLabels, supervision,
                                ClassifierTraining.Score(studentProbabilities, setup.Test.Labels), studentProbabilities, ceilings[s], firstRow + rows.Count, loss, taskSeed);
                            rows.Add(row);
                            Logger.LogInformation(
                                "seed {Seed} {Variant} {Weak} -> {Strong} ({Loss}): weak {WeakAcc:P1}, student {StudentAcc:P1}, ceiling {CeilingAcc:P1}, PGR {Pgr:F2}",
                                seed, variant, weak.Name, setup.Strong[s].Name, loss, row.WeakAccuracy, row.StudentAccuracy, row.CeilingAccuracy, row.Pgr);
                            Report($"student {setup.Strong[s].Name}{(losses.Count > 1 ? $" ({loss})" : "")} trained on {(variant == SupervisionVariant.Single ? weak.Name : $"ensemble of {weak.Name}")} labels");
                        }
                    }
                }
            }
        }
        finally
        {
            foreach (var model in owned) model.Dispose();
        }
        return new SeedUnitData(rows, device);
    }

    /// <summary>A seeded 50/50 split of <paramref name="n"/> rows: A gets the first ⌊n/2⌋ of a shuffled order, B the rest.</summary>
    internal static (Tensor A, Tensor B) Split(int n, int seed)
    {
        var order = Enumerable.Range(0, n).Select(i => (long)i).ToArray();
        new Random(seed).Shuffle(order);
        int half = n / 2;
        return (tensor(order[..half]), tensor(order[half..]));
    }

    /// <summary>The student's competence objective: by name, or learning to reweight against the first examples of half A.</summary>
    private ICompetenceObjective StudentObjective(IClassifierStudent student, Tensor xa, Tensor ya, string loss)
    {
        if (!WeakToStrongOptions.IsReweight(loss))
            return Options.TakesCompetenceOptions(loss) ? Options.CompetenceOptions.Create(loss) : CompetenceObjectives.Create(loss);
        int trusted = TrustedCount(xa);
        return new LearningToReweightObjective(student, xa.narrow(0, 0, trusted), ya.narrow(0, 0, trusted));
    }

    /// <summary>
    /// The student's features and soft labels: half B with the weak labels, plus — for a loss other than
    /// <c>reweight</c> with <see cref="WeakToStrongOptions.TrustedExamples"/> set — the trusted examples with one-hot
    /// ground truth (the control that sees the same ground truth as <c>reweight</c>).
    /// </summary>
    private (Tensor Features, Tensor SoftLabels) StudentData(Tensor xb, Tensor weakLabels, Tensor xa, Tensor ya, int classes, string loss)
    {
        if (WeakToStrongOptions.IsReweight(loss) || Options.TrustedExamples is null) return (xb, weakLabels);
        int trusted = TrustedCount(xa);
        var truth = nn.functional.one_hot(ya.narrow(0, 0, trusted).to_type(ScalarType.Int64), classes).to_type(weakLabels.dtype).to(weakLabels.device);
        return (cat([xb, xa.narrow(0, 0, trusted).to(xb.device)], 0), cat([weakLabels, truth], 0));
    }

    private int TrustedCount(Tensor xa)
    {
        int trusted = Options.TrustedExamples!.Value;
        if (trusted > xa.shape[0])
            throw new ArgumentOutOfRangeException(nameof(WeakToStrongOptions.TrustedExamples), trusted,
                $"{nameof(WeakToStrongOptions)}.{nameof(WeakToStrongOptions.TrustedExamples)} must be at most the {xa.shape[0]} examples of half A; got {trusted}.");
        return trusted;
    }

    private void Train(IClassifierStudent model, Tensor features, Tensor labels, Tensor? softLabels, ICompetenceObjective objective, TrainingSettings settings,
        int seed, CancellationToken ct)
    {
        var (steps, learningRate, batchSize) = settings.Resolve(Options.Steps, Options.LearningRate, Options.BatchSize, (int)features.shape[0]);
        ClassifierTraining.Train(model, features, labels, softLabels, objective, steps, learningRate, batchSize, SeedStreams.Mix(seed, TrainingStream), ct);
    }

    /// <summary>A supervisor's soft labels on B (kept as a tensor for training) and its evaluation on the test set.</summary>
    private sealed record WeakLabels(Tensor LabelsB, ClassifierEvaluation Test, double[][] TestProbabilities, EnsembleDisagreement? Disagreement);

    private static WeakLabels Supervise(ILabelSupervisor supervisor, Tensor xb, ClassificationTable test, EnsembleDisagreement? disagreement)
    {
        var labels = supervisor.Label(xb);
        using var scope = NewDisposeScope();
        var probabilities = supervisor.Label(test.Features);
        return new WeakLabels(labels, ClassifierTraining.Score(probabilities, test.Labels), Rows(probabilities), disagreement);
    }

    /// <summary>Probabilities <c>[N, C]</c> as float64 rows.</summary>
    private static double[][] Rows(Tensor probabilities)
    {
        using var scope = NewDisposeScope();
        var flat = probabilities.detach().to(CPU).to_type(ScalarType.Float64).contiguous();
        int n = (int)flat.shape[0], c = (int)flat.shape[1];
        var values = flat.data<double>().ToArray();
        return Enumerable.Range(0, n).Select(i => values.AsSpan(i * c, c).ToArray()).ToArray();
    }

    private static ClassifierEvaluation Evaluate(IClassifierStudent model, ClassificationTable test) =>
        ClassifierTraining.Evaluate(model, test.Features, test.Labels);

    private WeakToStrongRow Row(SupervisionVariant variant, string weak, string strong, int seed, int[] labels,
        WeakLabels supervision, ClassifierEvaluation student, Tensor studentProbabilities, ClassifierEvaluation ceiling, int index, string loss, long? taskSeed)
    {
        var studentRows = Rows(studentProbabilities);
        var w = supervision.Test;
        var pgr = PerformanceGapRecovered.Compute(w.Accuracy, student.Accuracy, ceiling.Accuracy, Options.MinimumGap);
        var interval = Bootstrap.Pgr(w.Correct, student.Correct, ceiling.Correct, Options.MinimumGap, Options.ConfidenceLevel,
            Options.BootstrapResamples, seed: SeedStreams.Mix(seed, BootstrapStream, index));
        return new WeakToStrongRow(variant, weak, strong, seed, w.Accuracy, student.Accuracy, ceiling.Accuracy,
            pgr.Value, pgr.ExclusionReason, interval,
            SupervisorAgreement.Rate(student.Predictions, w.Predictions),
            SupervisorAgreement.WeakErrors(labels, w.Predictions, student.Predictions),
            w.Ece, student.Ece, ceiling.Ece, supervision.Disagreement, loss.Trim(), taskSeed,
            Misfit.MeanSquaredDistance(studentRows, supervision.TestProbabilities),
            Misfit.Brier(supervision.TestProbabilities, labels), Misfit.Brier(studentRows, labels));
    }

    private IReadOnlyList<WeakToStrongPairSummary> PairSummaries(IReadOnlyList<WeakToStrongRow> rows) =>
        rows.GroupBy(r => (r.Variant, r.Weak, r.Strong, r.Loss)).Select(g =>
        {
            var included = g.Where(r => !r.Excluded).Select(r => r.Pgr).ToArray();
            var median = PerformanceGapRecovered.Median(g.Select(r => (r.WeakAccuracy, r.StudentAccuracy, r.CeilingAccuracy)).ToList(), Options.MinimumGap);
            return new WeakToStrongPairSummary(g.Key.Variant, g.Key.Weak, g.Key.Strong, median.Included, median.Excluded, median.Median,
                included.Length == 0 ? null : MeanSummary.Of(included, Options.ConfidenceLevel),
                g.Average(r => r.WeakAccuracy), g.Average(r => r.StudentAccuracy), g.Average(r => r.CeilingAccuracy),
                g.Key.Loss, g.Average(r => r.Agreement), g.Average(r => r.Misfit), g.Average(r => r.BrierGain));
        }).ToList();

    private IReadOnlyList<WeakToStrongSizeSummary> SizeSummaries(IReadOnlyList<WeakToStrongRow> rows) =>
        rows.GroupBy(r => (r.Variant, r.Strong, r.Loss)).Select(g =>
        {
            var perSeed = g.GroupBy(r => r.Seed)
                .Select(s => s.Where(r => !r.Excluded).Select(r => r.Pgr).ToArray())
                .Where(v => v.Length > 0).Select(v => v.Average()).ToArray();
            return new WeakToStrongSizeSummary(g.Key.Variant, g.Key.Strong, perSeed.Length,
                perSeed.Length == 0 ? null : MeanSummary.Of(perSeed, Options.ConfidenceLevel), g.Key.Loss);
        }).ToList();

    private IReadOnlyList<WeakToStrongVariantSummary> VariantSummaries(IReadOnlyList<WeakToStrongRow> rows) =>
        rows.GroupBy(r => (r.Variant, r.Loss)).Select(g =>
        {
            var median = PerformanceGapRecovered.Median(g.Select(r => (r.WeakAccuracy, r.StudentAccuracy, r.CeilingAccuracy)).ToList(), Options.MinimumGap);
            return new WeakToStrongVariantSummary(g.Key.Variant, median.Median, median.Included, median.Excluded, g.Key.Loss);
        }).ToList();
}
