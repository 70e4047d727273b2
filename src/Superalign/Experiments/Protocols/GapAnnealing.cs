using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Superalign.Experiments.Metrics;
using Superalign.Objectives.Competence;
using Superalign.Students;
using Superalign.Experiments.Tasks;
using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

/// <summary>How a <see cref="GapSchedule"/> chooses the next student size.</summary>
public enum GapScheduleKind
{
    /// <summary>A fixed number of ladder steps beyond the last size trained (1 = every size in turn).</summary>
    LadderSteps,

    /// <summary>
    /// The smallest later size whose probe-estimated capability exceeds the current supervisor's probe accuracy by at
    /// least <see cref="GapSchedule.Delta"/> (the largest size when none does).
    /// </summary>
    CapabilityGap,
}

/// <summary>
/// The gap per round of <see cref="GapAnnealing"/>: which size of the ladder the next student has, given the last size
/// trained and the current supervisor. The chain always ends with the largest size.
/// </summary>
public sealed record GapSchedule
{
    /// <summary>The rule. Default <see cref="GapScheduleKind.LadderSteps"/>.</summary>
    public GapScheduleKind Kind { get; init; } = GapScheduleKind.LadderSteps;

    /// <summary>Ladder steps per round for <see cref="GapScheduleKind.LadderSteps"/>. At least 1. Default 1.</summary>
    public int LadderSteps { get; init; } = 1;

    /// <summary>
    /// Required capability gap δ for <see cref="GapScheduleKind.CapabilityGap"/>, in accuracy (0.02 = 2 points).
    /// In [0, 1). Default 0.02.
    /// </summary>
    public double Delta { get; init; } = 0.02;

    /// <summary>Every size of the ladder in turn: the smallest gap the ladder allows.</summary>
    public static GapSchedule OneSizeAtATime => new();

    /// <summary><paramref name="ladderSteps"/> sizes per round (the last round may be shorter).</summary>
    /// <param name="ladderSteps">At least 1.</param>
    public static GapSchedule Stride(int ladderSteps) => new() { LadderSteps = ladderSteps };

    /// <summary>The smallest next size whose probe-estimated capability beats the supervisor by at least <paramref name="delta"/>.</summary>
    /// <param name="delta">The gap in accuracy, in [0, 1).</param>
    public static GapSchedule MinimumCapabilityGap(double delta) => new() { Kind = GapScheduleKind.CapabilityGap, Delta = delta };

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming <paramref name="option"/> when a value is out of range.</summary>
    /// <param name="option">The option that holds the schedule, for the message.</param>
    /// <param name="owner">The options type, for the message.</param>
    public void Validate(string option = "Schedule", string owner = nameof(GapSchedule))
    {
        if (!Enum.IsDefined(Kind))
            throw new ArgumentOutOfRangeException(option, Kind, $"{owner}.{option}.{nameof(Kind)} must be one of {string.Join(", ", Enum.GetNames<GapScheduleKind>())}.");
        if (LadderSteps < 1)
            throw new ArgumentOutOfRangeException(option, LadderSteps, $"{owner}.{option}.{nameof(LadderSteps)} must be at least 1; got {LadderSteps}.");
        if (!(double.IsFinite(Delta) && Delta >= 0 && Delta < 1))
            throw new ArgumentOutOfRangeException(option, Delta, $"{owner}.{option}.{nameof(Delta)} must be in [0, 1); got {Delta}.");
    }

    /// <summary>The rung (ladder index) of the next student.</summary>
    /// <param name="position">The rung of the last student trained (0 = the weak model).</param>
    /// <param name="last">The largest rung.</param>
    /// <param name="supervisorProbeAccuracy">The current supervisor's accuracy on the probe set.</param>
    /// <param name="capabilities">Probe-estimated capability per rung (needed by <see cref="GapScheduleKind.CapabilityGap"/>).</param>
    /// <returns>A rung in <c>(position, last]</c>.</returns>
    /// <exception cref="ArgumentException"><paramref name="position"/> is not below <paramref name="last"/>, or capabilities are missing.</exception>
    public int Next(int position, int last, double supervisorProbeAccuracy, IReadOnlyList<double>? capabilities)
    {
        if (position < 0 || position >= last)
            throw new ArgumentException($"position must be in [0, {last}); got {position}.", nameof(position));
        if (Kind == GapScheduleKind.LadderSteps) return Math.Min(last, position + LadderSteps);
        if (capabilities is null || capabilities.Count <= last)
            throw new ArgumentException($"The capability-gap schedule needs a capability for each of the {last + 1} rungs.", nameof(capabilities));
        for (int r = position + 1; r < last; r++)
            if (capabilities[r] >= supervisorProbeAccuracy + Delta) return r;
        return last;
    }

    /// <inheritdoc />
    public override string ToString() => Kind == GapScheduleKind.LadderSteps
        ? (LadderSteps == 1 ? "one size at a time" : string.Create(CultureInfo.InvariantCulture, $"{LadderSteps} sizes per round"))
        : string.Create(CultureInfo.InvariantCulture, $"smallest size with probe capability >= supervisor + {Delta:G3}");
}

/// <summary>When a student replaces its supervisor in <see cref="GapAnnealing"/>.</summary>
public enum AcceptanceRule
{
    /// <summary>Always: plain iterated distillation (every student supervises the next), for comparison.</summary>
    Always,

    /// <summary>When the student's probe accuracy exceeds the supervisor's by more than the margin.</summary>
    Margin,

    /// <summary>
    /// When the lower end of the paired percentile bootstrap interval (over probe examples) of student − supervisor
    /// probe accuracy exceeds the margin: the improvement must be more than noise.
    /// </summary>
    BootstrapLowerBound,
}

/// <summary>Whether a student replaces its supervisor, and the probe evidence.</summary>
/// <param name="Accepted">Whether the student becomes the next supervisor.</param>
/// <param name="Difference">Student − supervisor accuracy on the probe set.</param>
/// <param name="Interval">Paired bootstrap interval of the difference over probe examples (computed under every rule).</param>
/// <param name="Reason">The rule's verdict in words.</param>
public sealed record AcceptanceDecision(bool Accepted, double Difference, BootstrapInterval Interval, string Reason);

/// <summary>
/// Options of <see cref="GapAnnealing"/>; validated when the protocol is constructed (an invalid value throws
/// <see cref="ArgumentOutOfRangeException"/> naming the option).
/// </summary>
public sealed record GapAnnealingOptions
{
    /// <summary>The built-in task (<see cref="RepresentationTask"/>).</summary>
    public RepresentationTaskOptions Task { get; init; } = new();

    /// <summary>
    /// The ladder of trunks, smallest first: rung 0 is the weak model (trained on ground truth), the last rung the
    /// target student; the students of the chain are linear probes over the later rungs. At least 2, no repeats.
    /// Default w8-d1, w16-d1, w32-d2, w64-d3, w128-d4.
    /// </summary>
    public IReadOnlyList<TrunkSpec> Ladder { get; init; } = [.. TrunkSpec.WeakLadder, .. TrunkSpec.StrongLadder];

    /// <summary>Training examples (split 50/50 per seed: A for the weak model, B for every student and ceiling). At least 4. Default 4000.</summary>
    public int TrainSize { get; init; } = 4000;

    /// <summary>
    /// Labelled probe examples (separate from training and test, drawn afresh for each seed) that estimate capability
    /// and decide acceptance. At least 10. Default 500.
    /// </summary>
    public int ProbeSize { get; init; } = 500;

    /// <summary>Test examples every reported accuracy is measured on. At least 10. Default 5000.</summary>
    public int TestSize { get; init; } = 5000;

    /// <summary>One repetition per seed (split, batch order). At least one, no repeats. Default 0, 1, 2.</summary>
    public IReadOnlyList<int> Seeds { get; init; } = [0, 1, 2];

    /// <summary>The students' competence loss on their supervisor's soft labels (a name of <see cref="CompetenceObjectives.Names"/>). Default <c>xent</c>.</summary>
    public string Loss { get; init; } = "xent";

    /// <summary>
    /// Optimizer updates of each chain round, of the weak model and of each ceiling. At least 1. Default 400. The
    /// direct student gets the chain's total (rounds × this), so both spend the same training budget.
    /// </summary>
    public int StepsPerRound { get; init; } = 400;

    /// <summary>Peak AdamW learning rate (cosine decay to zero, no warm-up). Finite and &gt; 0. Default 1e-2.</summary>
    public double LearningRate { get; init; } = 1e-2;

    /// <summary>Examples per batch. At least 1. Default 64.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>The gap per round. Default one size at a time.</summary>
    public GapSchedule Schedule { get; init; } = GapSchedule.OneSizeAtATime;

    /// <summary>When a student replaces its supervisor. Default <see cref="AcceptanceRule.Margin"/>.</summary>
    public AcceptanceRule Acceptance { get; init; } = AcceptanceRule.Margin;

    /// <summary>Probe-accuracy margin of the acceptance rule (the student must beat the supervisor by more than this). In [0, 1). Default 0.</summary>
    public double AcceptanceMargin { get; init; }

    /// <summary>Folds of the cross-fitted capability estimate (capability-gap schedule only). At least 2. Default 2.</summary>
    public int CapabilityFolds { get; init; } = 2;

    /// <summary>Updates of each capability-estimate fit on the probe set (capability-gap schedule only). At least 1. Default 200.</summary>
    public int CapabilitySteps { get; init; } = 200;

    /// <summary>Resamples of the paired bootstrap intervals (acceptance and chained − direct). At least 1. Default 1000.</summary>
    public int BootstrapResamples { get; init; } = 1000;

    /// <summary>Coverage of the bootstrap and t intervals, in (0, 1). Default 0.95.</summary>
    public double ConfidenceLevel { get; init; } = 0.95;

    /// <summary>Device: <c>auto</c>, <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>. Default <c>auto</c>.</summary>
    public string Device { get; init; } = "auto";

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        const string owner = nameof(GapAnnealingOptions);
        if (Task is null) throw new ArgumentOutOfRangeException(nameof(Task), $"{owner}.{nameof(Task)} must not be null.");
        Task.Validate();
        ProtocolCheck.NotEmpty(Ladder, nameof(Ladder), owner);
        if (Ladder.Count < 2)
            throw new ArgumentOutOfRangeException(nameof(Ladder), $"{owner}.{nameof(Ladder)} must hold at least 2 trunks (a weak model and a student); got {Ladder.Count}.");
        TrunkChecks.Check(Ladder, nameof(Ladder), owner);
        ProtocolCheck.AtLeast(TrainSize, 4, nameof(TrainSize), owner);
        ProtocolCheck.AtLeast(ProbeSize, 10, nameof(ProbeSize), owner);
        ProtocolCheck.AtLeast(TestSize, 10, nameof(TestSize), owner);
        ProtocolCheck.NotEmpty(Seeds, nameof(Seeds), owner);
        ProtocolCheck.Distinct(Seeds, nameof(Seeds), owner);
        ProtocolCheck.CompetenceLoss(Loss, nameof(Loss), owner);
        ProtocolCheck.AtLeast(StepsPerRound, 1, nameof(StepsPerRound), owner);
        ProtocolCheck.Positive(LearningRate, nameof(LearningRate), owner);
        ProtocolCheck.AtLeast(BatchSize, 1, nameof(BatchSize), owner);
        if (Schedule is null) throw new ArgumentOutOfRangeException(nameof(Schedule), $"{owner}.{nameof(Schedule)} must not be null.");
        Schedule.Validate(nameof(Schedule), owner);
        if (!Enum.IsDefined(Acceptance))
            throw new ArgumentOutOfRangeException(nameof(Acceptance), Acceptance, $"{owner}.{nameof(Acceptance)} must be one of {string.Join(", ", Enum.GetNames<AcceptanceRule>())}.");
        ProtocolCheck.Fraction(AcceptanceMargin, nameof(AcceptanceMargin), owner, allowZero: true);
        ProtocolCheck.AtLeast(CapabilityFolds, 2, nameof(CapabilityFolds), owner);
        if (CapabilityFolds > ProbeSize)
            throw new ArgumentOutOfRangeException(nameof(CapabilityFolds), CapabilityFolds, $"{owner}.{nameof(CapabilityFolds)} must be at most {nameof(ProbeSize)} ({ProbeSize}); got {CapabilityFolds}.");
        ProtocolCheck.AtLeast(CapabilitySteps, 1, nameof(CapabilitySteps), owner);
        ProtocolCheck.AtLeast(BootstrapResamples, 1, nameof(BootstrapResamples), owner);
        ProtocolCheck.Fraction(ConfidenceLevel, nameof(ConfidenceLevel), owner);
        if (string.IsNullOrWhiteSpace(Device))
            throw new ArgumentOutOfRangeException(nameof(Device), Device, $"{owner}.{nameof(Device)} must name a device (auto, cpu, cuda, cuda:N).");
    }
}

/// <summary>The capability of one ladder size estimated on the probe set (capability-gap schedule only).</summary>
/// <param name="Trunk">The trunk.</param>
/// <param name="Rung">Its index in the ladder.</param>
/// <param name="Capability">
/// Cross-fitted probe accuracy: a linear probe on this trunk trained with ground truth on all probe folds but one and
/// scored on the held-out fold, pooled over folds.
/// </param>
public sealed record RungCapability(string Trunk, int Rung, double Capability);

/// <summary>One round of the chain: a student trained on its supervisor's soft labels, and whether it was accepted.</summary>
/// <param name="Round">1-based round number.</param>
/// <param name="Supervisor">The supervisor's trunk (the weak model's in round 1, or the last accepted student's).</param>
/// <param name="SupervisorRung">The supervisor's ladder index.</param>
/// <param name="Student">The student's trunk.</param>
/// <param name="StudentRung">The student's ladder index.</param>
/// <param name="Steps">Optimizer updates of the round.</param>
/// <param name="SupervisorProbeAccuracy">The supervisor's accuracy on the probe set.</param>
/// <param name="StudentProbeAccuracy">The student's accuracy on the probe set.</param>
/// <param name="Decision">The acceptance decision.</param>
/// <param name="SupervisorTestAccuracy">The supervisor's test accuracy.</param>
/// <param name="StudentTestAccuracy">The student's test accuracy.</param>
/// <param name="CeilingTestAccuracy">Test accuracy of the student's size trained on B with ground truth.</param>
/// <param name="Pgr">PGR of the student w.r.t. the weak model and its own size's ceiling; NaN when the ceiling does not beat the weak model.</param>
public sealed record GapAnnealingRound(
    int Round, string Supervisor, int SupervisorRung, string Student, int StudentRung, int Steps,
    double SupervisorProbeAccuracy, double StudentProbeAccuracy, AcceptanceDecision Decision,
    double SupervisorTestAccuracy, double StudentTestAccuracy, double CeilingTestAccuracy, double Pgr);

/// <summary>Everything one seed of <see cref="GapAnnealing"/> measured.</summary>
/// <param name="Seed">The seed.</param>
/// <param name="Weak">The weak model's trunk (rung 0).</param>
/// <param name="Target">The largest trunk: the final chained student's and the direct student's.</param>
/// <param name="WeakTestAccuracy">Test accuracy of the weak model.</param>
/// <param name="WeakProbeAccuracy">Probe accuracy of the weak model.</param>
/// <param name="Capabilities">Probe-estimated capability per rung (capability-gap schedule; empty otherwise).</param>
/// <param name="Rounds">The chain's rounds in order.</param>
/// <param name="ChainSteps">Updates of all chain rounds together (the weak model, shared by both arms, is not counted).</param>
/// <param name="DirectSteps">Updates of the direct student: equal to <paramref name="ChainSteps"/>.</param>
/// <param name="CapabilityEstimationSteps">Updates spent on capability estimates on the probe set (not student training).</param>
/// <param name="ChainedAccuracy">Test accuracy of the chain's final student (the last round's, at the target size).</param>
/// <param name="DirectAccuracy">Test accuracy of the target size trained directly on the weak model's labels for <paramref name="DirectSteps"/> updates.</param>
/// <param name="DirectOneRoundAccuracy">The same with one round's updates (the weak-to-strong protocol's student).</param>
/// <param name="CeilingAccuracy">Test accuracy of the target size trained on B with ground truth (one round's updates).</param>
/// <param name="ChainedPgr">PGR of the chained student w.r.t. the weak model and the target ceiling (NaN when excluded).</param>
/// <param name="DirectPgr">PGR of the direct student (NaN when excluded).</param>
/// <param name="ChainedMinusDirect">Chained − direct test accuracy with a paired bootstrap interval over test examples.</param>
/// <param name="ChainOutput">The supervisor at the end of the chain (the last accepted model; what the acceptance rule would deploy).</param>
/// <param name="ChainOutputAccuracy">Its test accuracy.</param>
/// <param name="Accepted">Rounds whose student was accepted.</param>
/// <param name="Rejected">Rounds whose student was rejected.</param>
/// <param name="ChainedWeakErrors">Which of the weak model's test errors the chained student copies or corrects.</param>
/// <param name="DirectWeakErrors">Which of the weak model's test errors the direct student copies or corrects.</param>
public sealed record GapAnnealingSeedResult(
    int Seed, string Weak, string Target, double WeakTestAccuracy, double WeakProbeAccuracy,
    IReadOnlyList<RungCapability> Capabilities, IReadOnlyList<GapAnnealingRound> Rounds,
    int ChainSteps, int DirectSteps, int CapabilityEstimationSteps,
    double ChainedAccuracy, double DirectAccuracy, double DirectOneRoundAccuracy, double CeilingAccuracy,
    double ChainedPgr, double DirectPgr, BootstrapInterval ChainedMinusDirect,
    string ChainOutput, double ChainOutputAccuracy, int Accepted, int Rejected,
    WeakErrorAnalysis ChainedWeakErrors, WeakErrorAnalysis DirectWeakErrors);

/// <summary>The students of one ladder size over seeds (for a chart of accuracy along the chain).</summary>
/// <param name="Trunk">The student's trunk.</param>
/// <param name="Rung">Its ladder index.</param>
/// <param name="Rounds">Rounds (over all seeds) that trained this size.</param>
/// <param name="Accepted">Of those, how many were accepted.</param>
/// <param name="TestAccuracy">Mean test accuracy with a t-interval over those rounds.</param>
/// <param name="CeilingAccuracy">Mean test accuracy of this size's ceiling over those rounds' seeds.</param>
public sealed record GapAnnealingRungSummary(string Trunk, int Rung, int Rounds, int Accepted, SummaryStatistics TestAccuracy, double CeilingAccuracy);

/// <summary>The comparison over seeds; every interval is a Student-t interval over seeds.</summary>
/// <param name="Weak">Weak model test accuracy.</param>
/// <param name="Ceiling">Target-size ceiling test accuracy.</param>
/// <param name="Chained">Final chained student test accuracy.</param>
/// <param name="Direct">Direct student test accuracy (same budget).</param>
/// <param name="DirectOneRound">Direct student with one round's updates.</param>
/// <param name="ChainOutput">Test accuracy of the model the chain ends with (last accepted).</param>
/// <param name="ChainedPgr">PGR of the chained student over the seeds where it is defined (null when none).</param>
/// <param name="DirectPgr">PGR of the direct student over the seeds where it is defined (null when none).</param>
/// <param name="ChainedMinusDirect">Paired difference chained − direct per seed.</param>
/// <param name="SeedsChainedBetter">Seeds on which the chained student is more accurate than the direct one.</param>
/// <param name="Accepted">Accepted rounds, summed over seeds.</param>
/// <param name="Rejected">Rejected rounds, summed over seeds.</param>
/// <param name="ChainedCopiedFraction">Fraction of the weak model's test errors the chained student copies.</param>
/// <param name="DirectCopiedFraction">Fraction of the weak model's test errors the direct student copies.</param>
/// <param name="Rungs">Per student size: accuracy along the chain.</param>
public sealed record GapAnnealingSummary(
    SummaryStatistics Weak, SummaryStatistics Ceiling, SummaryStatistics Chained, SummaryStatistics Direct,
    SummaryStatistics DirectOneRound, SummaryStatistics ChainOutput, SummaryStatistics? ChainedPgr, SummaryStatistics? DirectPgr,
    SummaryStatistics ChainedMinusDirect, int SeedsChainedBetter, int Accepted, int Rejected,
    SummaryStatistics ChainedCopiedFraction, SummaryStatistics DirectCopiedFraction, IReadOnlyList<GapAnnealingRungSummary> Rungs);

/// <summary>How many examples each role saw.</summary>
/// <param name="Train">Training examples before the split.</param>
/// <param name="WeakTraining">Half A: the weak model's ground-truth training set.</param>
/// <param name="StudentTraining">Half B: labelled by each round's supervisor for its student; ground truth for the ceilings.</param>
/// <param name="Probe">Labelled probe examples (capability estimates and acceptance).</param>
/// <param name="Test">Test examples.</param>
public sealed record GapAnnealingSampleSizes(int Train, int WeakTraining, int StudentTraining, int Probe, int Test);

/// <summary>Everything a gap-annealing run measured; written with <see cref="ProtocolJson.Write{T}"/>.</summary>
/// <param name="Options">The options of the run.</param>
/// <param name="Seeds">The seeds, in order.</param>
/// <param name="SampleSizes">Example counts.</param>
/// <param name="Trunks">How well each pretrained trunk learned h*.</param>
/// <param name="PerSeed">One entry per seed.</param>
/// <param name="Summary">Means over seeds with t-intervals.</param>
/// <param name="Device">The device it ran on.</param>
/// <param name="WallSeconds">Wall time of the run.</param>
public sealed record GapAnnealingResult(
    GapAnnealingOptions Options, IReadOnlyList<int> Seeds, GapAnnealingSampleSizes SampleSizes, IReadOnlyList<TrunkDiagnostics> Trunks,
    IReadOnlyList<GapAnnealingSeedResult> PerSeed, GapAnnealingSummary Summary, string Device, double WallSeconds);

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
public sealed class GapAnnealing
{
    /// <summary>The protocol's name in progress reports.</summary>
    public const string ProtocolName = "gap-annealing";

    private const long TrainStream = 1, TestStream = 2, ProbeStream = 3;
    private readonly ILogger<GapAnnealing> _logger;

    /// <summary>The protocol on the built-in <see cref="RepresentationTask"/>.</summary>
    /// <param name="options">Options (validated here); null takes the defaults.</param>
    /// <param name="logger">Optional logger (one line per round and per seed).</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    public GapAnnealing(GapAnnealingOptions? options = null, ILogger<GapAnnealing>? logger = null)
    {
        Options = options ?? new GapAnnealingOptions();
        Options.Validate();
        _logger = logger ?? NullLogger<GapAnnealing>.Instance;
    }

    /// <summary>The options in force.</summary>
    public GapAnnealingOptions Options { get; }

    /// <summary>Runs the protocol.</summary>
    /// <param name="progress">Receives a report after each pretraining and each training.</param>
    /// <param name="cancellationToken">Checked between and during trainings.</param>
    /// <exception cref="OperationCanceledException">The run was cancelled.</exception>
    public GapAnnealingResult Run(IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var watch = Stopwatch.StartNew();
        var o = Options;
        var device = Devices.Parse(o.Device);
        using var task = new RepresentationTask(o.Task, device);
        using var scope = NewDisposeScope();
        var train = task.Sample(o.TrainSize, TrainStream);
        var test = task.Sample(o.TestSize, TestStream);
        int last = o.Ladder.Count - 1;
        bool capability = o.Schedule.Kind == GapScheduleKind.CapabilityGap;
        int perSeed = 1 + (capability ? o.CapabilityFolds * o.Ladder.Count : 0) + PlannedRounds() + 2 + last;
        int total = o.Ladder.Count + perSeed * o.Seeds.Count, done = 0;
        void Report(string stage) => progress?.Report(new ProtocolProgress(ProtocolName, stage, ++done, total));

        var trunks = new List<TrunkDiagnostics>();
        foreach (var spec in o.Ladder)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var d = task.Trunk(spec).Diagnostics;
            trunks.Add(d);
            Report($"trunk {spec.Name} pretrained");
        }

        int n = o.TrainSize;
        var objective = CompetenceObjectives.Create(o.Loss);
        var testLabels = ClassificationAccuracy.Predictions(test.Labels);
        var seeds = new List<GapAnnealingSeedResult>();
        foreach (int seed in o.Seeds)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var seedScope = NewDisposeScope();
            var owned = new List<IClassifierStudent>();
            try
            {
                // A fresh probe sample per seed, so that the seeds also vary the probe set's noise.
                var probe = task.Sample(o.ProbeSize, ProbeStream + 16L * (seed + 1L));
                var (a, b) = WeakToStrong.Split(n, seed);
                var xa = train.Features.index_select(0, a.to(device));
                var ya = train.Labels.index_select(0, a.to(device));
                var xb = train.Features.index_select(0, b.to(device));
                var yb = train.Labels.index_select(0, b.to(device));

                IClassifierStudent NewProbe(int rung)
                {
                    var model = task.Probe(o.Ladder[rung]);
                    owned.Add(model);
                    return model;
                }

                // The weak model: rung 0 on A with ground truth.
                var weak = NewProbe(0);
                ClassifierTraining.Train(weak, xa, ya, null, CompetenceObjectives.Create("ce"), o.StepsPerRound, o.LearningRate, o.BatchSize,
                    ClassifierTraining.MixSeed(seed, 0), cancellationToken);
                Report($"seed {seed}: weak {o.Ladder[0].Name} trained on A");
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
                        for (int f = 0; f < o.CapabilityFolds; f++) Report($"seed {seed}: capability of {o.Ladder[r].Name}, fold {f + 1}");
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
                            ClassifierTraining.MixSeed(seed, round), cancellationToken);
                        Report($"seed {seed}: round {round}, {o.Ladder[rung].Name} trained on {supervisor.Name}");
                        return student;
                    },
                    model => ClassifierTraining.Evaluate(model, probe.Features, probe.Labels).Correct,
                    (student, supervisor, round) => Decide(student, supervisor, o.Acceptance, o.AcceptanceMargin, o.ConfidenceLevel, o.BootstrapResamples,
                        ClassifierTraining.MixSeed(seed, 1000 + round)),
                    cancellationToken);
                int chainSteps = roundSteps.Values.Sum();

                // Direct supervision of the largest size by the weak model, at the chain's total budget and at one round's.
                var weakSoft = ClassifierTraining.Probabilities(weak, xb);
                var direct = NewProbe(last);
                int directSteps = ClassifierTraining.Train(direct, xb, weakSoft.argmax(1), weakSoft, objective, chainSteps, o.LearningRate, o.BatchSize,
                    ClassifierTraining.MixSeed(seed, 500), cancellationToken);
                Report($"seed {seed}: direct {o.Ladder[last].Name} trained on {o.Ladder[0].Name} for {chainSteps} steps");
                var directShort = NewProbe(last);
                ClassifierTraining.Train(directShort, xb, weakSoft.argmax(1), weakSoft, objective, o.StepsPerRound, o.LearningRate, o.BatchSize,
                    ClassifierTraining.MixSeed(seed, 501), cancellationToken);
                Report($"seed {seed}: direct {o.Ladder[last].Name} trained for {o.StepsPerRound} steps");

                // Ceilings of every student size: B with ground truth.
                var ceilings = new Dictionary<int, ClassifierEvaluation>();
                foreach (int rung in trace.Steps.Select(s => s.StudentRung).Append(last).Distinct().Order())
                {
                    var ceiling = NewProbe(rung);
                    ClassifierTraining.Train(ceiling, xb, yb, null, CompetenceObjectives.Create("ce"), o.StepsPerRound, o.LearningRate, o.BatchSize,
                        ClassifierTraining.MixSeed(seed, 600 + rung), cancellationToken);
                    ceilings[rung] = ClassifierTraining.Evaluate(ceiling, test.Features, test.Labels);
                    Report($"seed {seed}: ceiling {o.Ladder[rung].Name} trained on B");
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
                    _logger.LogInformation("seed {Seed} round {Round}: {Supervisor} -> {Student}: probe {SupProbe:P1} -> {StuProbe:P1} ({Verdict}); test {StuTest:P1}",
                        seed, row.Round, row.Supervisor, row.Student, row.SupervisorProbeAccuracy, row.StudentProbeAccuracy,
                        row.Decision.Accepted ? "accepted" : "rejected", row.StudentTestAccuracy);
                    return row;
                }).ToList();

                var chained = Test(trace.Steps[^1].Student);
                var directTest = Test(direct);
                var directShortTest = Test(directShort);
                var ceilingTest = ceilings[last];
                var output = Test(trace.Output);
                var seedResult = new GapAnnealingSeedResult(seed, o.Ladder[0].Name, o.Ladder[last].Name, weakTest.Accuracy, weakProbe.Accuracy,
                    capabilities, rounds, chainSteps, directSteps, capabilitySteps,
                    chained.Accuracy, directTest.Accuracy, directShortTest.Accuracy, ceilingTest.Accuracy,
                    PerformanceGapRecovered.Compute(weakTest.Accuracy, chained.Accuracy, ceilingTest.Accuracy).Value,
                    PerformanceGapRecovered.Compute(weakTest.Accuracy, directTest.Accuracy, ceilingTest.Accuracy).Value,
                    Bootstrap.MeanDifference(chained.Correct, directTest.Correct, o.ConfidenceLevel, o.BootstrapResamples, ClassifierTraining.MixSeed(seed, 2000)),
                    o.Ladder[trace.OutputRung].Name, output.Accuracy,
                    rounds.Count(r => r.Decision.Accepted), rounds.Count(r => !r.Decision.Accepted),
                    Agreement.WeakErrors(testLabels, weakTest.Predictions, chained.Predictions),
                    Agreement.WeakErrors(testLabels, weakTest.Predictions, directTest.Predictions));
                seeds.Add(seedResult);
                _logger.LogInformation("seed {Seed}: weak {Weak:P1}, chained {Chained:P1}, direct {Direct:P1} ({Steps} steps), ceiling {Ceiling:P1}; {Accepted} accepted, {Rejected} rejected",
                    seed, seedResult.WeakTestAccuracy, seedResult.ChainedAccuracy, seedResult.DirectAccuracy, chainSteps, seedResult.CeilingAccuracy,
                    seedResult.Accepted, seedResult.Rejected);
            }
            finally
            {
                foreach (var model in owned) model.Dispose();
            }
        }
        progress?.Report(new ProtocolProgress(ProtocolName, "done", total, total));
        return new GapAnnealingResult(o, o.Seeds.ToArray(),
            new GapAnnealingSampleSizes(n, n / 2, n - n / 2, o.ProbeSize, o.TestSize), trunks, seeds, Summarize(seeds), device.ToString(), watch.Elapsed.TotalSeconds);
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
        new Random(ClassifierTraining.MixSeed(seed, 3000)).Shuffle(order);
        double hits = 0;
        for (int f = 0; f < k; f++)
        {
            using var scope = NewDisposeScope();
            int start = (int)((long)f * n / k), end = (int)((long)(f + 1) * n / k);
            var held = tensor(order[start..end], device: probe.Features.device);
            var fit = tensor(order[..start].Concat(order[end..]).ToArray(), device: probe.Features.device);
            using var model = task.Probe(spec);
            steps += ClassifierTraining.Train(model, probe.Features.index_select(0, fit), probe.Labels.index_select(0, fit), null, CompetenceObjectives.Create("ce"),
                Options.CapabilitySteps, Options.LearningRate, Options.BatchSize, ClassifierTraining.MixSeed(seed, 3001 + f), ct);
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
        SummaryStatistics Of(Func<GapAnnealingSeedResult, double> f) => Summaries.Of(seeds.Select(f).ToArray(), level);
        var rungs = seeds.SelectMany(s => s.Rounds.Select(r => (Seed: s, Round: r))).GroupBy(x => x.Round.StudentRung).OrderBy(g => g.Key)
            .Select(g => new GapAnnealingRungSummary(g.First().Round.Student, g.Key, g.Count(), g.Count(x => x.Round.Decision.Accepted),
                Summaries.Of(g.Select(x => x.Round.StudentTestAccuracy).ToArray(), level), g.Average(x => x.Round.CeilingTestAccuracy)))
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

/// <summary>Option checks shared by the gap-annealing and diversified-supervision protocols.</summary>
internal static class TrunkChecks
{
    /// <summary>Every trunk valid and no repeats; errors name <paramref name="option"/>.</summary>
    public static void Check(IReadOnlyList<TrunkSpec> trunks, string option, string owner)
    {
        foreach (var spec in trunks)
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
