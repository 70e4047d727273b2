using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Superalign.Data;
using Superalign.Experiments.Metrics;
using Superalign.Objectives.Competence;
using Superalign.Students;
using Superalign.Supervision;
using Superalign.Experiments.Tasks;
using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

/// <summary>How the strong student of <see cref="DiversifiedSupervision"/> is supervised.</summary>
public enum DiversityVariant
{
    /// <summary>
    /// (i) One weak supervisor's soft labels: one student per member, so that each member's errors can be compared
    /// between the student it supervised alone and the students of the ensemble.
    /// </summary>
    Single,

    /// <summary>(ii) The mean soft labels of the diverse weak members (<see cref="EnsembleCombination.Mean"/>).</summary>
    Ensemble,

    /// <summary>
    /// (iii) The mean labels, each example's loss weighted by the members' agreement
    /// (<see cref="EnsembleSupervisor.LabelWithAgreement"/>: the fraction of members whose argmax is the mean's argmax),
    /// through <see cref="ExampleWeightedObjective"/>.
    /// </summary>
    AgreementWeighted,

    /// <summary>(iv) Member 0's labels in an easy-to-hard <see cref="Curriculum"/> ordered by its confidence.</summary>
    Curriculum,

    /// <summary>(iv′) The ensemble's mean labels in an easy-to-hard curriculum ordered by the mean labels' confidence.</summary>
    EnsembleCurriculum,
}

/// <summary>
/// Options of <see cref="DiversifiedSupervision"/>; validated when the protocol is constructed (an invalid value throws
/// <see cref="ArgumentOutOfRangeException"/> naming the option).
/// </summary>
public sealed record DiversifiedSupervisionOptions
{
    /// <summary>The built-in task (<see cref="RepresentationTask"/>).</summary>
    public RepresentationTaskOptions Task { get; init; } = new();

    /// <summary>
    /// The weak supervisors: linear probes over these trunks, each trained on A with ground truth. Member 0 is the
    /// reference single supervisor: the weak model of every PGR, the supervisor of <see cref="DiversityVariant.Curriculum"/>
    /// and the baseline of the paired differences. At least 2, no repeats. Default w16-d1, w16-d1 with trunk seed 1,
    /// w8-d1 (different sizes and seeds).
    /// </summary>
    public IReadOnlyList<TrunkSpec> Members { get; init; } = [new(16, 1), new(16, 1, 1), new(8, 1)];

    /// <summary>The strong student's (and ceiling's) trunk. Default w128-d4.</summary>
    public TrunkSpec Student { get; init; } = new(128, 4);

    /// <summary>The variants to run, in this order. At least one, no repeats. Default all five.</summary>
    public IReadOnlyList<DiversityVariant> Variants { get; init; } = Enum.GetValues<DiversityVariant>();

    /// <summary>Training examples (split 50/50 per seed: A for the weak members, B for the students and the ceiling). At least 4. Default 4000.</summary>
    public int TrainSize { get; init; } = 4000;

    /// <summary>Test examples. At least 10. Default 5000.</summary>
    public int TestSize { get; init; } = 5000;

    /// <summary>One repetition per seed (split, batch order). At least one, no repeats. Default 0, 1, 2.</summary>
    public IReadOnlyList<int> Seeds { get; init; } = [0, 1, 2];

    /// <summary>The student's competence loss (a name of <see cref="CompetenceObjectives.Names"/>). Default <c>xent</c>.</summary>
    public string Loss { get; init; } = "xent";

    /// <summary>Optimizer updates of every training (members, students, ceiling). At least 1. Default 400.</summary>
    public int Steps { get; init; } = 400;

    /// <summary>Peak AdamW learning rate (cosine decay to zero, no warm-up). Finite and &gt; 0. Default 1e-2.</summary>
    public double LearningRate { get; init; } = 1e-2;

    /// <summary>Examples per batch. At least 1. Default 64.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Stages (and confidence buckets) of the curricula. At least 1. Default 3.</summary>
    public int CurriculumStages { get; init; } = 3;

    /// <summary>Whether a curriculum stage sees all easier buckets too (default) or only its own bucket.</summary>
    public CurriculumPacing CurriculumPacing { get; init; } = CurriculumPacing.Cumulative;

    /// <summary>Coverage of the t intervals over seeds, in (0, 1). Default 0.95.</summary>
    public double ConfidenceLevel { get; init; } = 0.95;

    /// <summary>Device: <c>auto</c>, <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>. Default <c>auto</c>.</summary>
    public string Device { get; init; } = "auto";

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        const string owner = nameof(DiversifiedSupervisionOptions);
        if (Task is null) throw new ArgumentOutOfRangeException(nameof(Task), $"{owner}.{nameof(Task)} must not be null.");
        Task.Validate();
        ProtocolCheck.NotEmpty(Members, nameof(Members), owner);
        if (Members.Count < 2)
            throw new ArgumentOutOfRangeException(nameof(Members), $"{owner}.{nameof(Members)} must hold at least 2 trunks; got {Members.Count}.");
        TrunkChecks.Check(Members, nameof(Members), owner);
        if (Student is null) throw new ArgumentOutOfRangeException(nameof(Student), $"{owner}.{nameof(Student)} must not be null.");
        TrunkChecks.Check([Student], nameof(Student), owner);
        ProtocolCheck.NotEmpty(Variants, nameof(Variants), owner);
        foreach (var v in Variants)
            if (!Enum.IsDefined(v))
                throw new ArgumentOutOfRangeException(nameof(Variants), v, $"{owner}.{nameof(Variants)} must hold values of {string.Join(", ", Enum.GetNames<DiversityVariant>())}.");
        ProtocolCheck.Distinct(Variants, nameof(Variants), owner);
        ProtocolCheck.AtLeast(TrainSize, 4, nameof(TrainSize), owner);
        ProtocolCheck.AtLeast(TestSize, 10, nameof(TestSize), owner);
        ProtocolCheck.NotEmpty(Seeds, nameof(Seeds), owner);
        ProtocolCheck.Distinct(Seeds, nameof(Seeds), owner);
        ProtocolCheck.CompetenceLoss(Loss, nameof(Loss), owner);
        ProtocolCheck.AtLeast(Steps, 1, nameof(Steps), owner);
        ProtocolCheck.Positive(LearningRate, nameof(LearningRate), owner);
        ProtocolCheck.AtLeast(BatchSize, 1, nameof(BatchSize), owner);
        ProtocolCheck.AtLeast(CurriculumStages, 1, nameof(CurriculumStages), owner);
        if (CurriculumStages > TrainSize - TrainSize / 2)
            throw new ArgumentOutOfRangeException(nameof(CurriculumStages), CurriculumStages,
                $"{owner}.{nameof(CurriculumStages)} must be at most the student's training examples ({TrainSize - TrainSize / 2}); got {CurriculumStages}.");
        if (!Enum.IsDefined(CurriculumPacing))
            throw new ArgumentOutOfRangeException(nameof(CurriculumPacing), CurriculumPacing,
                $"{owner}.{nameof(CurriculumPacing)} must be one of {string.Join(", ", Enum.GetNames<CurriculumPacing>())}.");
        ProtocolCheck.Fraction(ConfidenceLevel, nameof(ConfidenceLevel), owner);
        if (string.IsNullOrWhiteSpace(Device))
            throw new ArgumentOutOfRangeException(nameof(Device), Device, $"{owner}.{nameof(Device)} must name a device (auto, cpu, cuda, cuda:N).");
    }
}

/// <summary>How many of one weak member's test errors a model reproduces.</summary>
/// <param name="Member">The member's trunk.</param>
/// <param name="Errors">The member's test errors that the model copies (same wrong class), corrects, or gets wrong otherwise.</param>
public sealed record MemberErrorCopies(string Member, WeakErrorAnalysis Errors)
{
    /// <summary>Fraction of the member's test errors that the model reproduces exactly.</summary>
    public double CopiedFraction => Errors.CopiedFraction;
}

/// <summary>One (seed, variant) result of <see cref="DiversifiedSupervision"/>, measured on the test set.</summary>
/// <param name="Seed">The seed.</param>
/// <param name="Variant">How the student was supervised.</param>
/// <param name="Supervisor">The member it was trained on (its trunk's name), or <c>ensemble</c>.</param>
/// <param name="SupervisorMember">The index of that member, or null for the ensemble's labels.</param>
/// <param name="SupervisorAccuracy">Test accuracy of the labels it trained on (the member's, or the ensemble's mean).</param>
/// <param name="StudentAccuracy">Test accuracy of the student.</param>
/// <param name="CeilingAccuracy">Test accuracy of the student's size trained on B with ground truth.</param>
/// <param name="Pgr">PGR w.r.t. the single weak supervisor (member 0) and the ceiling, the same reference for every variant; NaN when excluded.</param>
/// <param name="PgrOverSupervisor">PGR w.r.t. the variant's own supervisor; NaN when excluded.</param>
/// <param name="Agreement">Fraction of test examples on which the student predicts its supervisor's argmax.</param>
/// <param name="Members">Per weak member: which of its test errors the student copies.</param>
/// <param name="MaxCopiedFraction">The largest copied fraction over the members: how much the student follows any one supervisor's errors.</param>
/// <param name="MeanWeight">Mean per-example weight on B (agreement-weighted variant; null otherwise).</param>
public sealed record DiversifiedSupervisionRow(
    int Seed, DiversityVariant Variant, string Supervisor, int? SupervisorMember, double SupervisorAccuracy, double StudentAccuracy, double CeilingAccuracy,
    double Pgr, double PgrOverSupervisor, double Agreement, IReadOnlyList<MemberErrorCopies> Members, double MaxCopiedFraction, double? MeanWeight);

/// <summary>What one seed's supervisors were like.</summary>
/// <param name="Seed">The seed.</param>
/// <param name="MemberAccuracies">Test accuracy of each weak member, in member order.</param>
/// <param name="EnsembleAccuracy">Test accuracy of the members' mean labels.</param>
/// <param name="Disagreement">How much the members disagree on the test set.</param>
/// <param name="MeanAgreementWeight">Mean agreement weight on B.</param>
/// <param name="UnanimousFraction">Fraction of B on which every member agrees with the mean's argmax (weight 1).</param>
/// <param name="CeilingAccuracy">Test accuracy of the ceiling.</param>
/// <param name="CeilingCopies">
/// Per member, the "copied" fraction of the ceiling, which never saw weak labels: the share of a member's errors a
/// model trained on ground truth still makes the same way (the floor of what copying can be).
/// </param>
public sealed record DiversifiedSupervisionSeed(
    int Seed, IReadOnlyList<double> MemberAccuracies, double EnsembleAccuracy, EnsembleDisagreement Disagreement,
    double MeanAgreementWeight, double UnanimousFraction, double CeilingAccuracy, IReadOnlyList<MemberErrorCopies> CeilingCopies);

/// <summary>One member's copied fraction over seeds.</summary>
/// <param name="Member">The member's trunk.</param>
/// <param name="CopiedFraction">Mean over seeds with a t-interval; null when the member made no test error on any seed.</param>
/// <param name="VersusOwnStudent">
/// Paired difference per seed: this copied fraction − that of the student trained on this member alone
/// (<see cref="DiversityVariant.Single"/>); negative means fewer of the member's errors copied than when it supervises
/// alone. Null for that student itself, when <see cref="DiversityVariant.Single"/> is not run, and for the ceiling.
/// </param>
public sealed record MemberCopySummary(string Member, SummaryStatistics? CopiedFraction, SummaryStatistics? VersusOwnStudent = null);

/// <summary>One (variant, supervisor) over seeds (Student-t intervals over seeds).</summary>
/// <param name="Variant">The variant.</param>
/// <param name="Supervisor">The member it was trained on, or <c>ensemble</c>.</param>
/// <param name="SupervisorAccuracy">Accuracy of the labels it trained on.</param>
/// <param name="StudentAccuracy">Student test accuracy.</param>
/// <param name="Pgr">PGR w.r.t. member 0 over the seeds where it is defined (null when none).</param>
/// <param name="PgrOverSupervisor">PGR w.r.t. the own supervisor over the seeds where it is defined (null when none).</param>
/// <param name="Members">Copied fraction per member.</param>
/// <param name="MaxCopiedFraction">Largest copied fraction over members (null when no member made an error).</param>
/// <param name="AccuracyVsSingle">
/// Paired difference per seed: student accuracy − that of the student of member 0 alone (null for that student, or
/// when <see cref="DiversityVariant.Single"/> is not run).
/// </param>
/// <param name="MaxCopiedVsSingle">Paired difference of the largest copied fraction − that of the student of member 0 alone (null likewise).</param>
public sealed record DiversityVariantSummary(
    DiversityVariant Variant, string Supervisor, SummaryStatistics SupervisorAccuracy, SummaryStatistics StudentAccuracy, SummaryStatistics? Pgr,
    SummaryStatistics? PgrOverSupervisor, IReadOnlyList<MemberCopySummary> Members, SummaryStatistics? MaxCopiedFraction,
    SummaryStatistics? AccuracyVsSingle, SummaryStatistics? MaxCopiedVsSingle);

/// <summary>Everything a diversified-supervision run measured; written with <see cref="ProtocolJson.Write{T}"/>.</summary>
/// <param name="Options">The options of the run.</param>
/// <param name="Seeds">The seeds, in order.</param>
/// <param name="SampleSizes">Example counts (weak training = A, strong training = B).</param>
/// <param name="Trunks">How well each pretrained trunk learned h*.</param>
/// <param name="PerSeed">The supervisors of each seed.</param>
/// <param name="Rows">One row per (seed, variant, supervisor): <see cref="DiversityVariant.Single"/> has one per member.</param>
/// <param name="Variants">Per (variant, supervisor), over seeds, in the order of the options' variants.</param>
/// <param name="CeilingCopies">Per member, the ceiling's copied fraction over seeds (the coincidence floor).</param>
/// <param name="Device">The device it ran on.</param>
/// <param name="WallSeconds">Wall time of the run.</param>
public sealed record DiversifiedSupervisionResult(
    DiversifiedSupervisionOptions Options, IReadOnlyList<int> Seeds, WeakToStrongSampleSizes SampleSizes, IReadOnlyList<TrunkDiagnostics> Trunks,
    IReadOnlyList<DiversifiedSupervisionSeed> PerSeed, IReadOnlyList<DiversifiedSupervisionRow> Rows, IReadOnlyList<DiversityVariantSummary> Variants,
    IReadOnlyList<MemberCopySummary> CeilingCopies, string Device, double WallSeconds);

/// <summary>
/// Diversified supervision (the co-optimization framework's second principle): does a strong student trained on
/// several diverse weak supervisors — averaged, weighted by their agreement, or fed easy-to-hard — do better, and copy
/// fewer of any one supervisor's errors, than a student of one weak supervisor?
/// </summary>
/// <remarks>
/// <para>Per seed, on the built-in <see cref="RepresentationTask"/>: split the training set 50/50 into A and B (as
/// <see cref="WeakToStrong"/> does); train each weak member (linear probes over trunks of different sizes and seeds)
/// on A with ground truth; train the strong ceiling on B with ground truth; then train one strong student per
/// <see cref="DiversityVariant"/> on B with that variant's labels, for the same number of updates and — except for
/// the curricula, which change the order — the same batches. Every model is evaluated on the test set.</para>
/// <para>Reported per (seed, variant): accuracy, PGR against the single supervisor (member 0) and against the
/// variant's own supervisor, and for every member the fraction of its test errors the student reproduces
/// (<see cref="Agreement.WeakErrors(int[], int[], int[])"/>), with t-intervals over seeds and paired differences
/// against the single-supervisor student. The ceiling's copied fractions give the floor: errors of a member that even
/// a ground-truth-trained strong model makes the same way.</para>
/// </remarks>
public sealed class DiversifiedSupervision
{
    /// <summary>The protocol's name in progress reports.</summary>
    public const string ProtocolName = "diversified-supervision";

    /// <summary>The <see cref="DiversifiedSupervisionRow.Supervisor"/> of the variants trained on the ensemble's labels.</summary>
    public const string EnsembleName = "ensemble";

    private const long TrainStream = 1, TestStream = 2;
    private readonly ILogger<DiversifiedSupervision> _logger;

    /// <summary>The protocol on the built-in <see cref="RepresentationTask"/>.</summary>
    /// <param name="options">Options (validated here); null takes the defaults.</param>
    /// <param name="logger">Optional logger (one line per row).</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    public DiversifiedSupervision(DiversifiedSupervisionOptions? options = null, ILogger<DiversifiedSupervision>? logger = null)
    {
        Options = options ?? new DiversifiedSupervisionOptions();
        Options.Validate();
        _logger = logger ?? NullLogger<DiversifiedSupervision>.Instance;
    }

    /// <summary>The options in force.</summary>
    public DiversifiedSupervisionOptions Options { get; }

    /// <summary>Runs the protocol.</summary>
    /// <param name="progress">Receives a report after each pretraining and each training.</param>
    /// <param name="cancellationToken">Checked between and during trainings.</param>
    /// <exception cref="OperationCanceledException">The run was cancelled.</exception>
    public DiversifiedSupervisionResult Run(IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var watch = Stopwatch.StartNew();
        var o = Options;
        var device = Devices.Parse(o.Device);
        using var task = new RepresentationTask(o.Task, device);
        using var scope = NewDisposeScope();
        var train = task.Sample(o.TrainSize, TrainStream);
        var test = task.Sample(o.TestSize, TestStream);
        var specs = o.Members.Append(o.Student).Distinct().ToList();
        int total = specs.Count + (o.Members.Count + 1 + Plan().Count) * o.Seeds.Count, done = 0;
        void Report(string stage) => progress?.Report(new ProtocolProgress(ProtocolName, stage, ++done, total));

        var trunks = new List<TrunkDiagnostics>();
        foreach (var spec in specs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            trunks.Add(task.Trunk(spec).Diagnostics);
            Report($"trunk {spec.Name} pretrained");
        }

        int n = o.TrainSize;
        var testLabels = ClassificationAccuracy.Predictions(test.Labels);
        var perSeed = new List<DiversifiedSupervisionSeed>();
        var rows = new List<DiversifiedSupervisionRow>();
        foreach (int seed in o.Seeds)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var seedScope = NewDisposeScope();
            var owned = new List<IClassifierStudent>();
            try
            {
                var (a, b) = WeakToStrong.Split(n, seed);
                var xa = train.Features.index_select(0, a.to(device));
                var ya = train.Labels.index_select(0, a.to(device));
                var xb = train.Features.index_select(0, b.to(device));
                var yb = train.Labels.index_select(0, b.to(device));

                // The weak members on A with ground truth, and their test predictions.
                var members = new List<IClassifierStudent>();
                for (int m = 0; m < o.Members.Count; m++)
                {
                    var model = task.Probe(o.Members[m]);
                    owned.Add(model);
                    ClassifierTraining.Train(model, xa, ya, null, CompetenceObjectives.Create("ce"), o.Steps, o.LearningRate, o.BatchSize,
                        ClassifierTraining.MixSeed(seed, m), cancellationToken);
                    members.Add(model);
                    Report($"seed {seed}: weak member {o.Members[m].Name} trained on A");
                }
                var memberTests = members.Select(m => ClassifierTraining.Evaluate(m, test.Features, test.Labels)).ToList();
                var ensemble = new EnsembleSupervisor(members.Select(m => (ILabelSupervisor)new ModelSupervisor(m)), EnsembleCombination.Mean);
                var (ensembleB, weightsB) = ensemble.LabelWithAgreement(xb);
                var singleB = ClassifierTraining.Probabilities(members[0], xb);
                var ensembleTest = ClassifierTraining.Score(ensemble.Label(test.Features), test.Labels);
                var weights = weightsB.to_type(ScalarType.Float64).cpu().data<double>().ToArray();

                var ceiling = task.Probe(o.Student);
                owned.Add(ceiling);
                ClassifierTraining.Train(ceiling, xb, yb, null, CompetenceObjectives.Create("ce"), o.Steps, o.LearningRate, o.BatchSize,
                    ClassifierTraining.MixSeed(seed, 100), cancellationToken);
                var ceilingTest = ClassifierTraining.Evaluate(ceiling, test.Features, test.Labels);
                Report($"seed {seed}: ceiling {o.Student.Name} trained on B");

                List<MemberErrorCopies> Copies(int[] predictions) => o.Members.Select((spec, m) =>
                    new MemberErrorCopies(spec.Name, Agreement.WeakErrors(testLabels, memberTests[m].Predictions, predictions))).ToList();

                perSeed.Add(new DiversifiedSupervisionSeed(seed, memberTests.Select(e => e.Accuracy).ToArray(), ensembleTest.Accuracy,
                    ensemble.Disagreement(test.Features), weights.Average(), weights.Count(w => w >= 1 - 1e-6) / (double)weights.Length,
                    ceilingTest.Accuracy, Copies(ceilingTest.Predictions)));

                // One student per (variant, supervisor); the same batch seed for all, so that every variant but the curricula sees the same batches.
                int batchSeed = ClassifierTraining.MixSeed(seed, 200);
                var memberB = new Tensor?[members.Count];
                memberB[0] = singleB;
                foreach (var (variant, member) in Plan())
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    using var variantScope = NewDisposeScope();
                    var labels = member is int k ? memberB[k] ??= ClassifierTraining.Probabilities(members[k], xb).DetachFromDisposeScope() : ensembleB;
                    var objective = CompetenceObjectives.Create(o.Loss);
                    IBatchSource<SupervisedBatch> batches;
                    if (variant == DiversityVariant.AgreementWeighted)
                    {
                        batches = SupervisedDataset.ForClassification(xb, labels.argmax(1), ExampleWeightedObjective.Attach(labels, weightsB)).Batches(o.BatchSize, batchSeed);
                        objective = new ExampleWeightedObjective(objective);
                    }
                    else if (variant is DiversityVariant.Curriculum or DiversityVariant.EnsembleCurriculum)
                    {
                        batches = SupervisedDataset.ForClassification(xb, labels.argmax(1), labels)
                            .CurriculumBatches(Curriculum.Confidence(labels), o.BatchSize, o.Steps, o.CurriculumStages, o.CurriculumPacing, batchSeed);
                    }
                    else
                    {
                        batches = SupervisedDataset.ForClassification(xb, labels.argmax(1), labels).Batches(o.BatchSize, batchSeed);
                    }
                    using var student = task.Probe(o.Student);
                    ClassifierTraining.Train(student, batches, objective, o.Steps, o.LearningRate, cancellationToken);
                    var studentTest = ClassifierTraining.Evaluate(student, test.Features, test.Labels);
                    var supervisor = member is int j ? memberTests[j] : ensembleTest;
                    string supervisorName = member is int i ? o.Members[i].Name : EnsembleName;
                    var copies = Copies(studentTest.Predictions);
                    var row = new DiversifiedSupervisionRow(seed, variant, supervisorName, member, supervisor.Accuracy, studentTest.Accuracy, ceilingTest.Accuracy,
                        PerformanceGapRecovered.Compute(memberTests[0].Accuracy, studentTest.Accuracy, ceilingTest.Accuracy).Value,
                        PerformanceGapRecovered.Compute(supervisor.Accuracy, studentTest.Accuracy, ceilingTest.Accuracy).Value,
                        Agreement.Rate(studentTest.Predictions, supervisor.Predictions), copies,
                        copies.Select(c => c.CopiedFraction).Where(double.IsFinite).DefaultIfEmpty(double.NaN).Max(),
                        variant == DiversityVariant.AgreementWeighted ? weights.Average() : null);
                    rows.Add(row);
                    _logger.LogInformation("seed {Seed} {Variant} ({Supervisor}): supervisor {SupervisorAccuracy:P1}, student {Student:P1}, ceiling {Ceiling:P1}, max copied {Copied:P1}",
                        seed, variant, supervisorName, row.SupervisorAccuracy, row.StudentAccuracy, row.CeilingAccuracy, row.MaxCopiedFraction);
                    Report($"seed {seed}: student {o.Student.Name} trained ({variant}, {supervisorName})");
                }
                foreach (var labels in memberB.Skip(1)) labels?.Dispose();
            }
            finally
            {
                foreach (var model in owned) model.Dispose();
            }
        }
        var ceilingCopies = o.Members.Select((spec, m) => new MemberCopySummary(spec.Name,
            ClassifierTraining.SummaryOrNull(perSeed.Select(s => s.CeilingCopies[m].CopiedFraction), o.ConfidenceLevel))).ToList();
        return new DiversifiedSupervisionResult(o, o.Seeds.ToArray(),
            new WeakToStrongSampleSizes(n, n / 2, n - n / 2, o.TestSize, o.Task.InputDimension, o.Task.Classes),
            trunks, perSeed, rows, Summarize(rows), ceilingCopies, device.ToString(), watch.Elapsed.TotalSeconds);
    }

    /// <summary>The students to train, in order: (variant, member index or null for the ensemble's labels).</summary>
    internal IReadOnlyList<(DiversityVariant Variant, int? Member)> Plan() => Options.Variants.SelectMany(v => v switch
    {
        DiversityVariant.Single => Enumerable.Range(0, Options.Members.Count).Select(m => (v, (int?)m)),
        DiversityVariant.Curriculum => [(v, (int?)0)],
        _ => new[] { (v, (int?)null) },
    }).ToList();

    private IReadOnlyList<DiversityVariantSummary> Summarize(IReadOnlyList<DiversifiedSupervisionRow> rows)
    {
        double level = Options.ConfidenceLevel;
        // The student of each member alone, per (member, seed): the baseline of the paired differences.
        var alone = rows.Where(r => r.Variant == DiversityVariant.Single).ToDictionary(r => (r.SupervisorMember!.Value, r.Seed));
        return Plan().Select(p =>
        {
            var mine = rows.Where(r => r.Variant == p.Variant && r.SupervisorMember == p.Member).OrderBy(r => r.Seed).ToList();
            bool isAlone(int m) => p.Variant == DiversityVariant.Single && p.Member == m;
            SummaryStatistics? Versus(int m, Func<DiversifiedSupervisionRow, double> f) =>
                isAlone(m) || !mine.All(r => alone.ContainsKey((m, r.Seed))) ? null
                    : ClassifierTraining.SummaryOrNull(mine.Select(r => f(r) - f(alone[(m, r.Seed)])), level);
            return new DiversityVariantSummary(p.Variant, mine[0].Supervisor,
                Summaries.Of(mine.Select(r => r.SupervisorAccuracy).ToArray(), level),
                Summaries.Of(mine.Select(r => r.StudentAccuracy).ToArray(), level),
                ClassifierTraining.SummaryOrNull(mine.Select(r => r.Pgr), level),
                ClassifierTraining.SummaryOrNull(mine.Select(r => r.PgrOverSupervisor), level),
                Options.Members.Select((spec, m) => new MemberCopySummary(spec.Name,
                    ClassifierTraining.SummaryOrNull(mine.Select(r => r.Members[m].CopiedFraction), level),
                    Versus(m, r => r.Members[m].CopiedFraction))).ToList(),
                ClassifierTraining.SummaryOrNull(mine.Select(r => r.MaxCopiedFraction), level),
                Versus(0, r => r.StudentAccuracy), Versus(0, r => r.MaxCopiedFraction));
        }).ToList();
    }
}
