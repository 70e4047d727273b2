using Microsoft.Extensions.Logging.Abstractions;
using Superalign.Data;
using Superalign.Objectives.Competence;
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
public sealed record DiversifiedSupervisionOptions : IProtocolOptions
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
    public string CompetenceLoss { get; init; } = "xent";

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
        ProtocolCheck.Trunks(Members, nameof(Members), owner);
        if (Student is null) throw new ArgumentOutOfRangeException(nameof(Student), $"{owner}.{nameof(Student)} must not be null.");
        ProtocolCheck.Trunks([Student], nameof(Student), owner);
        ProtocolCheck.NotEmpty(Variants, nameof(Variants), owner);
        foreach (var v in Variants)
            if (!Enum.IsDefined(v))
                throw new ArgumentOutOfRangeException(nameof(Variants), v, $"{owner}.{nameof(Variants)} must hold values of {string.Join(", ", Enum.GetNames<DiversityVariant>())}.");
        ProtocolCheck.Distinct(Variants, nameof(Variants), owner);
        ProtocolCheck.AtLeast(TrainSize, 4, nameof(TrainSize), owner);
        ProtocolCheck.AtLeast(TestSize, 10, nameof(TestSize), owner);
        ProtocolCheck.NotEmpty(Seeds, nameof(Seeds), owner);
        ProtocolCheck.Distinct(Seeds, nameof(Seeds), owner);
        ProtocolCheck.CompetenceLoss(CompetenceLoss, nameof(CompetenceLoss), owner);
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
        ProtocolCheck.Device(Device, nameof(Device), owner);
    }
}
