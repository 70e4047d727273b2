using Microsoft.Extensions.Logging.Abstractions;
using Superalign.Experiments.Metrics;
using Superalign.Experiments.Tasks;
using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

/// <summary>Whether a student replaces its supervisor, and the probe evidence.</summary>
/// <param name="Accepted">Whether the student becomes the next supervisor.</param>
/// <param name="Difference">Student − supervisor accuracy on the probe set.</param>
/// <param name="Interval">Paired bootstrap interval of the difference over probe examples (computed under every rule).</param>
/// <param name="Reason">The rule's verdict in words.</param>
public sealed record AcceptanceDecision(bool Accepted, double Difference, BootstrapInterval Interval, string Reason);

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
    IReadOnlyList<GapAnnealingSeedResult> PerSeed, GapAnnealingSummary Summary, string Device, double WallSeconds) : IProtocolResult;
