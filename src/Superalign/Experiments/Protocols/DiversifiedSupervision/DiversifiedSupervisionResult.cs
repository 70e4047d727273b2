using Microsoft.Extensions.Logging.Abstractions;
using Superalign.Experiments.Metrics;
using Superalign.Supervision;
using Superalign.Experiments.Tasks;
using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

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
    IReadOnlyList<MemberCopySummary> CeilingCopies, string Device, double WallSeconds) : IProtocolResult;
