using Microsoft.Extensions.Logging.Abstractions;
using Superalign.Objectives.Competence;
using Superalign.Experiments.Tasks;
using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

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

/// <summary>
/// Options of <see cref="GapAnnealing"/>; validated when the protocol is constructed (an invalid value throws
/// <see cref="ArgumentOutOfRangeException"/> naming the option).
/// </summary>
public sealed record GapAnnealingOptions : IProtocolOptions
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
    public string CompetenceLoss { get; init; } = "xent";

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
        ProtocolCheck.Trunks(Ladder, nameof(Ladder), owner);
        ProtocolCheck.AtLeast(TrainSize, 4, nameof(TrainSize), owner);
        ProtocolCheck.AtLeast(ProbeSize, 10, nameof(ProbeSize), owner);
        ProtocolCheck.AtLeast(TestSize, 10, nameof(TestSize), owner);
        ProtocolCheck.NotEmpty(Seeds, nameof(Seeds), owner);
        ProtocolCheck.Distinct(Seeds, nameof(Seeds), owner);
        ProtocolCheck.CompetenceLoss(CompetenceLoss, nameof(CompetenceLoss), owner);
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
        ProtocolCheck.Device(Device, nameof(Device), owner);
    }
}
