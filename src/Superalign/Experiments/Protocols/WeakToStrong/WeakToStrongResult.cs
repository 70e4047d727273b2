using Microsoft.Extensions.Logging.Abstractions;
using Superalign.Experiments.Metrics;
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
    double WallSeconds) : IProtocolResult;
