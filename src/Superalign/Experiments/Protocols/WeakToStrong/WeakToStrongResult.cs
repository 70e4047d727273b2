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
/// <param name="Loss">The student's competence loss (a name of <see cref="WeakToStrongOptions.StudentLosses"/>).</param>
/// <param name="TaskSeed">
/// The <see cref="RepresentationTaskOptions.Seed"/> of the task instance the row ran on (with
/// <see cref="WeakToStrongOptions.TaskInstancePerSeed"/>, <c>Task.Seed + Seed</c>); null for a custom setup.
/// </param>
/// <param name="Misfit">
/// The student's misfit to its supervisor (Charikar et al. 2024): mean over test examples of
/// <c>‖p_student − p_weak‖²</c> (<see cref="Metrics.Misfit.MeanSquaredDistance"/>).
/// </param>
/// <param name="WeakBrier">Brier score of the supervisor's test probabilities (<see cref="Metrics.Misfit.Brier"/>).</param>
/// <param name="StudentBrier">Brier score of the student's test probabilities.</param>
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
    EnsembleDisagreement? MemberDisagreement,
    string Loss = "xent",
    long? TaskSeed = null,
    double Misfit = double.NaN,
    double WeakBrier = double.NaN,
    double StudentBrier = double.NaN)
{
    /// <summary>Whether the row is left out of PGR aggregates.</summary>
    public bool Excluded => ExclusionReason is not null;

    /// <summary>
    /// The student's gain over its supervisor in the same squared distance as <see cref="Misfit"/>:
    /// <c>WeakBrier − StudentBrier</c> (Charikar et al.'s gain; their theorem's case gives gain ≥ misfit).
    /// </summary>
    public double BrierGain => WeakBrier - StudentBrier;
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
/// <param name="Loss">The student's loss.</param>
/// <param name="Agreement">Mean student–supervisor agreement over all seeds.</param>
/// <param name="Misfit">Mean misfit over all seeds.</param>
/// <param name="BrierGain">Mean gain in Brier score over all seeds.</param>
public sealed record WeakToStrongPairSummary(
    SupervisionVariant Variant, string Weak, string Strong, int Included, int Excluded, double MedianPgr,
    SummaryStatistics? Pgr, double WeakAccuracy, double StudentAccuracy, double CeilingAccuracy,
    string Loss = "xent", double Agreement = double.NaN, double Misfit = double.NaN, double BrierGain = double.NaN);

/// <summary>One strong model over seeds: per seed, the mean PGR over the weak models whose row is included.</summary>
/// <param name="Variant">Single weak model or ensemble.</param>
/// <param name="Strong">The strong model.</param>
/// <param name="Seeds">Seeds with at least one included row.</param>
/// <param name="Pgr">Mean over those seeds with a Student-t interval; null when no seed has an included row.</param>
/// <param name="Loss">The student's loss.</param>
public sealed record WeakToStrongSizeSummary(SupervisionVariant Variant, string Strong, int Seeds, SummaryStatistics? Pgr, string Loss = "xent");

/// <summary>The headline number of a variant: the median PGR over every included (weak, strong, seed) row.</summary>
/// <param name="Variant">Single weak model or ensemble.</param>
/// <param name="MedianPgr">Median PGR (NaN when every row is excluded).</param>
/// <param name="Included">Rows in the median.</param>
/// <param name="Excluded">Rows left out by the exclusion rule.</param>
/// <param name="Loss">The student's loss.</param>
public sealed record WeakToStrongVariantSummary(SupervisionVariant Variant, double MedianPgr, int Included, int Excluded, string Loss = "xent");

/// <summary>
/// A paired difference between two student losses, <c>Loss − Baseline</c>, on the same (variant, weak, strong, seed):
/// same split, weak labels and ceiling, so the weak baseline cancels. Per seed the difference is averaged over the
/// pairs in scope (one pair, or every (weak, strong) pair for <c>Weak = Strong = "all"</c>); the t-interval is over seeds.
/// </summary>
/// <param name="Variant">Single weak model or ensemble.</param>
/// <param name="Weak">The weak model, or <c>all</c>.</param>
/// <param name="Strong">The strong model, or <c>all</c>.</param>
/// <param name="Loss">The compared loss.</param>
/// <param name="Baseline">The baseline loss (the first of <see cref="WeakToStrongOptions.CompetenceLosses"/>).</param>
/// <param name="Pgr">PGR difference over seeds where both rows are included; null when none.</param>
/// <param name="StudentAccuracy">Student accuracy difference over seeds.</param>
/// <param name="Misfit">Misfit difference over seeds.</param>
public sealed record WeakToStrongLossDifference(
    SupervisionVariant Variant, string Weak, string Strong, string Loss, string Baseline,
    SummaryStatistics? Pgr, SummaryStatistics StudentAccuracy, SummaryStatistics Misfit);

/// <summary>
/// The student-size effect, paired: the largest strong model minus the smallest (first and last of the strong
/// models), same loss, per seed averaged over the weak models; t-intervals over seeds. The ceiling and agreement
/// differences say whether a PGR drop comes from the student (it imitates more: higher agreement, misfit lower) or
/// from the denominator (the ceiling rises).
/// </summary>
/// <param name="Variant">Single weak model or ensemble.</param>
/// <param name="Loss">The student's loss.</param>
/// <param name="Smallest">The first strong model.</param>
/// <param name="Largest">The last strong model.</param>
/// <param name="Pgr">PGR difference over seeds where both rows of some weak model are included; null when none.</param>
/// <param name="StudentAccuracy">Student accuracy difference.</param>
/// <param name="CeilingAccuracy">Ceiling accuracy difference.</param>
/// <param name="Agreement">Student–supervisor agreement difference.</param>
/// <param name="Misfit">Misfit difference.</param>
public sealed record WeakToStrongSizeEffect(
    SupervisionVariant Variant, string Loss, string Smallest, string Largest, SummaryStatistics? Pgr,
    SummaryStatistics StudentAccuracy, SummaryStatistics CeilingAccuracy, SummaryStatistics Agreement, SummaryStatistics Misfit);

/// <summary>
/// Misfit against gain (Charikar et al. 2024) over the rows of one (variant, loss): the least-squares line of gain on
/// misfit across rows, their correlation, how many rows have gain ≥ misfit, and the paired difference gain − misfit
/// (per seed averaged over the rows, t-interval over seeds).
/// </summary>
/// <param name="Variant">Single weak model or ensemble.</param>
/// <param name="Loss">The student's loss.</param>
/// <param name="Rows">Rows in the fit.</param>
/// <param name="Misfit">Mean misfit over the rows.</param>
/// <param name="Gain">Mean Brier gain over the rows.</param>
/// <param name="Slope">Least-squares slope of gain on misfit (NaN with fewer than two distinct misfits).</param>
/// <param name="Intercept">Its intercept.</param>
/// <param name="Correlation">Pearson correlation of misfit and gain (NaN when either is constant).</param>
/// <param name="GainAtLeastMisfit">Rows with gain ≥ misfit.</param>
/// <param name="GainMinusMisfit">Gain − misfit over seeds.</param>
public sealed record WeakToStrongMisfitSummary(
    SupervisionVariant Variant, string Loss, int Rows, double Misfit, double Gain, double Slope, double Intercept,
    double Correlation, int GainAtLeastMisfit, SummaryStatistics GainMinusMisfit);

/// <summary>
/// The ensemble against a single weak supervisor on one consistent baseline: the paired difference of the students'
/// test accuracies (ensemble-taught − single-taught, same seed, weak, strong and loss; no weak baseline enters), and
/// the ensemble-taught student's PGR measured against the <b>single</b> weak model's accuracy (the same denominator as
/// the single row's PGR). The ensemble rows' own PGR uses the ensemble's accuracy as baseline and is not comparable.
/// </summary>
/// <param name="Weak">The weak model (member 0 of the ensemble).</param>
/// <param name="Strong">The strong model.</param>
/// <param name="Loss">The student's loss.</param>
/// <param name="StudentAccuracy">Ensemble-taught minus single-taught student accuracy over seeds.</param>
/// <param name="SupervisorAccuracy">Ensemble minus single supervisor accuracy over seeds.</param>
/// <param name="PgrOnSingleBaseline">
/// Ensemble-taught PGR on the single weak model's baseline minus the single-taught PGR, over seeds where the single row
/// is included; null when none.
/// </param>
public sealed record WeakToStrongEnsembleComparison(
    string Weak, string Strong, string Loss, SummaryStatistics StudentAccuracy, SummaryStatistics SupervisorAccuracy, SummaryStatistics? PgrOnSingleBaseline);

/// <summary>One task instance of a run with <see cref="WeakToStrongOptions.TaskInstancePerSeed"/>: its trunks.</summary>
/// <param name="Seed">The protocol seed.</param>
/// <param name="TaskSeed">The instance's <see cref="RepresentationTaskOptions.Seed"/>.</param>
/// <param name="Trunks">How well each of its pretrained trunks learned its h*.</param>
public sealed record WeakToStrongInstance(int Seed, long TaskSeed, IReadOnlyList<TrunkDiagnostics> Trunks);

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
/// <param name="Instances">
/// With <see cref="WeakToStrongOptions.TaskInstancePerSeed"/>: each seed's task instance and its trunks
/// (<see cref="Trunks"/> is then empty); otherwise empty.
/// </param>
/// <param name="LossDifferences">With several losses: each loss against the first, per pair and over all pairs.</param>
/// <param name="SizeEffects">With several strong models: largest − smallest, per (variant, loss).</param>
/// <param name="MisfitSummaries">Misfit against gain per (variant, loss).</param>
/// <param name="EnsembleComparisons">With the ensemble variant: ensemble against single on a consistent baseline.</param>
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
    double WallSeconds,
    IReadOnlyList<WeakToStrongInstance>? Instances = null,
    IReadOnlyList<WeakToStrongLossDifference>? LossDifferences = null,
    IReadOnlyList<WeakToStrongSizeEffect>? SizeEffects = null,
    IReadOnlyList<WeakToStrongMisfitSummary>? MisfitSummaries = null,
    IReadOnlyList<WeakToStrongEnsembleComparison>? EnsembleComparisons = null) : IProtocolResult;
