using Superalign.Experiments.Metrics;
using Superalign.Experiments.Tasks;

namespace Superalign.Experiments.Protocols;

/// <summary>One arm trained from one seed's base.</summary>
/// <param name="Arm">The arm's name.</param>
/// <param name="Seed">The seed.</param>
/// <param name="Scores">Held-out scores at the end.</param>
/// <param name="PrePreferenceCompetence">
/// Held-out competence of the model just before its first conformity update: the base for arms that start with
/// preference steps, the end of the SFT stage for sequential arms (the pre-preference peak the tax is measured from).
/// </param>
/// <param name="Updates">Optimizer updates made (all stages).</param>
/// <param name="CompetenceBatches">Competence mini-batches used.</param>
/// <param name="ConformityBatches">Conformity mini-batches used.</param>
/// <param name="Trajectory">Held-out scores along training, starting with the base (batches trained after the base).</param>
/// <param name="Seconds">Training time (evaluation excluded).</param>
/// <param name="HeldOut">Scores on the held-out value probes (null when the options set none).</param>
/// <param name="PairAccuracy">
/// Share of the rule's held-out pairs (oracle labels) whose chosen response the final model gives the higher
/// log-probability: its accuracy as a judge of the rule.
/// </param>
/// <param name="JudgeAccuracy">
/// For pairs a weak judge labelled: the judge's accuracy on the rule's held-out pairs (1 − the flip rate for flips;
/// measured for an LM judge); NaN when the rule labels the pairs.
/// </param>
public sealed record ArmRun(string Arm, int Seed, ValueConflictScores Scores, double PrePreferenceCompetence, int Updates, int CompetenceBatches,
    int ConformityBatches, IReadOnlyList<TrajectoryPoint> Trajectory, double Seconds, HeldOutScores? HeldOut = null, double PairAccuracy = double.NaN,
    double JudgeAccuracy = double.NaN)
{
    /// <summary>The alignment tax of this run: pre-preference competence − final competence (positive = competence lost).</summary>
    public double CompetenceDrop => PrePreferenceCompetence - Scores.Competence;
}

/// <summary>Scores on the prompts never trained on (<see cref="AlignmentTaxOptions.HeldOutTrigger"/>, <see cref="AlignmentTaxOptions.HeldOutOperandsFrom"/>).</summary>
/// <param name="Trigger">Requests with the held-out trigger operand (null when none is set).</param>
/// <param name="Operands">Requests with an operand in the held-out range and without the trigger (null when none is set).</param>
public sealed record HeldOutScores(ValueConflictScores? Trigger, ValueConflictScores? Operands);

/// <summary>One arm over seeds.</summary>
/// <param name="Arm">The arm's name.</param>
/// <param name="Description">Its stages and pairs in words.</param>
/// <param name="Competence">Held-out competence at the end (mean, t interval over seeds).</param>
/// <param name="Conformity">Held-out conformity at the end.</param>
/// <param name="PrePreferenceCompetence">Competence just before the first conformity update.</param>
/// <param name="CompetenceDrop">Pre-preference competence − final competence, per seed (the alignment tax; positive = lost).</param>
/// <param name="VersusCompetenceOnly">Final competence − the competence-only arm's, paired by seed (null without that arm).</param>
/// <param name="RefusalRate">Mean share of the prompts to refuse that were refused.</param>
/// <param name="OverRefusalRate">Mean share of answerable prompts refused anyway.</param>
/// <param name="CaveatRate">Mean share of caveat prompts answered with the caveat.</param>
/// <param name="MeanSeconds">Mean training time per seed.</param>
/// <param name="TriggerRefusal">Mean refusal rate on the held-out trigger's requests (null when none is set).</param>
/// <param name="HeldOutOperandCompetence">Mean competence on the held-out operand range (null when none is set).</param>
/// <param name="HeldOutOperandConformity">Mean conformity on the held-out operand range (null when none is set).</param>
/// <param name="PairAccuracy">Held-out pair accuracy (<see cref="ArmRun.PairAccuracy"/>) over seeds.</param>
/// <param name="WeakJudge">For an arm trained on flipped pairs: its ceiling arm and conformity PGR; otherwise null.</param>
public sealed record ArmSummary(string Arm, string Description, SummaryStatistics Competence, SummaryStatistics Conformity, SummaryStatistics PrePreferenceCompetence,
    SummaryStatistics CompetenceDrop, SummaryStatistics? VersusCompetenceOnly, double RefusalRate, double OverRefusalRate, double CaveatRate, double MeanSeconds,
    SummaryStatistics? TriggerRefusal = null, SummaryStatistics? HeldOutOperandCompetence = null, SummaryStatistics? HeldOutOperandConformity = null,
    SummaryStatistics? PairAccuracy = null, WeakJudgeSummary? WeakJudge = null);

/// <summary>
/// Weak conformity supervision, in Burns et al.'s terms: a weak judge (pairs flipped at a rate, or a small LM) supervises the student;
/// the ceiling is the same arm on the judge-free pairs; PGR = (student − judge) / (ceiling − judge) in held-out pair accuracy.
/// </summary>
/// <param name="CeilingArm">The arm with the same stages on unflipped pairs.</param>
/// <param name="JudgeAccuracy">The weak judge's accuracy on the held-out pairs, mean over seeds.</param>
/// <param name="Pgr">Per-seed PGR, mean and t interval.</param>
/// <param name="PgrOfMeans">PGR of the mean accuracies over seeds (steadier when a seed's gap is small).</param>
public sealed record WeakJudgeSummary(string CeilingArm, double JudgeAccuracy, SummaryStatistics Pgr, double PgrOfMeans);

/// <summary>A paired difference <c>First − Second</c> over seeds (same seed = same base, data and pairs).</summary>
/// <param name="First">The arm whose scores are taken.</param>
/// <param name="Second">The arm subtracted.</param>
/// <param name="Competence">Final competence difference (t interval over seeds).</param>
/// <param name="Conformity">Final conformity difference.</param>
/// <param name="CompetenceDrop">Difference of the alignment taxes (pre-preference − final competence).</param>
/// <param name="FirstWins">Seeds on which the first arm has both higher competence and at least as high conformity.</param>
public sealed record ArmDifference(string First, string Second, SummaryStatistics Competence, SummaryStatistics Conformity, SummaryStatistics CompetenceDrop, int FirstWins);

/// <summary>The result of <see cref="AlignmentTax"/>.</summary>
/// <param name="Options">The options.</param>
/// <param name="TrainPrompts">Training prompts of each seed, in seed order (the held-out probes' removal makes them vary).</param>
/// <param name="TestPrompts">Held-out test prompts of each seed, in seed order.</param>
/// <param name="Base">Held-out scores of each seed's base (the converged SFT model), in seed order.</param>
/// <param name="Runs">Every (arm, seed) run.</param>
/// <param name="Summaries">Per-arm results over seeds, in the options' order.</param>
/// <param name="Differences">The paired comparisons of <see cref="AlignmentTaxOptions.Comparisons"/> whose arms both ran.</param>
/// <param name="TradeOff">The alternating arms' final means ordered by their conformity share (the trade-off curve), with the sequential arms beside them.</param>
/// <param name="Verdict">What the numbers say, in words built from them.</param>
/// <param name="WallSeconds">Wall time of the run (or of the merge).</param>
public sealed record AlignmentTaxResult(AlignmentTaxOptions Options, IReadOnlyList<int> TrainPrompts, IReadOnlyList<int> TestPrompts, IReadOnlyList<ValueConflictScores> Base,
    IReadOnlyList<ArmRun> Runs, IReadOnlyList<ArmSummary> Summaries, IReadOnlyList<ArmDifference> Differences, IReadOnlyList<TradeOffPoint> TradeOff,
    string Verdict, double WallSeconds) : IProtocolResult
{
    /// <summary>
    /// The paired difference <paramref name="first"/> − <paramref name="second"/> over the seeds (t intervals at the
    /// options' confidence level), for any two arms of the run, whether or not <see cref="AlignmentTaxOptions.Comparisons"/> names them.
    /// </summary>
    /// <exception cref="ArgumentException">An arm has no runs, or the two arms ran on different seeds.</exception>
    public ArmDifference Compare(string first, string second) => Compare(Runs, first, second, Options.ConfidenceLevel);

    /// <summary>The paired difference of two arms' runs, seed by seed (see <see cref="Compare(string, string)"/>).</summary>
    internal static ArmDifference Compare(IReadOnlyList<ArmRun> runs, string first, string second, double level)
    {
        List<ArmRun> Of(string arm)
        {
            var mine = runs.Where(r => r.Arm == arm).OrderBy(r => r.Seed).ToList();
            return mine.Count > 0 ? mine : throw new ArgumentException($"The result has no run of arm '{arm}'.", arm == first ? nameof(first) : nameof(second));
        }
        var a = Of(first);
        var z = Of(second);
        if (!a.Select(r => r.Seed).SequenceEqual(z.Select(r => r.Seed)))
            throw new ArgumentException($"Arms '{first}' and '{second}' ran on different seeds, so they cannot be paired.", nameof(second));
        SummaryStatistics Paired(Func<ArmRun, double> value) => MeanSummary.Of(a.Zip(z, (x, y) => value(x) - value(y)).ToList(), level);
        return new ArmDifference(first, second, Paired(r => r.Scores.Competence), Paired(r => r.Scores.Conformity), Paired(r => r.CompetenceDrop),
            a.Zip(z).Count(p => p.First.Scores.Competence > p.Second.Scores.Competence && p.First.Scores.Conformity >= p.Second.Scores.Conformity));
    }
}

/// <summary>One point of the trade-off curve.</summary>
/// <param name="Arm">The arm.</param>
/// <param name="ConformityShare">Its share of conformity batches in the budget.</param>
/// <param name="Competence">Final competence over seeds.</param>
/// <param name="Conformity">Final conformity over seeds.</param>
public sealed record TradeOffPoint(string Arm, double ConformityShare, SummaryStatistics Competence, SummaryStatistics Conformity);
