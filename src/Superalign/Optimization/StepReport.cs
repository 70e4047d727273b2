namespace Superalign.Optimization;

/// <summary>What one optimizer update did.</summary>
/// <param name="Step">0-based index of the update.</param>
/// <param name="Phase">Phase the schedule chose.</param>
/// <param name="Loss">The weighted loss that was minimised (mean over micro-batches).</param>
/// <param name="CompetenceLoss">
/// Unweighted competence loss, when the step computed one (a direction-search step computes both, whichever candidate won).
/// </param>
/// <param name="ConformityLoss">Unweighted conformity loss, when the step computed one.</param>
/// <param name="GradientNorm">Global gradient norm before clipping.</param>
/// <param name="LearningRate">Learning rate of the update.</param>
/// <param name="Elapsed">Wall time of the step.</param>
/// <param name="Metrics">
/// Named metrics with TRL's names: <c>rewards/chosen</c>, <c>rewards/rejected</c>, <c>rewards/margins</c>,
/// <c>rewards/accuracies</c>, <c>logps/chosen</c>, <c>logps/rejected</c> on conformity steps;
/// <c>competence/accuracy</c> (agreement with the hard targets) on competence steps; the <c>conflict/*</c> metrics
/// (<see cref="MetricNames.ConflictCosine"/> and the following) on steps that measured both gradients (see
/// <see cref="AlternatingOptimizerOptions.ConflictDiagnostics"/> and <see cref="AlternatingOptimizerOptions.ConflictMode"/>);
/// the <c>search/*</c> metrics (<see cref="MetricNames.SearchWinner"/> and the following) on direction-search steps.
/// </param>
public sealed record StepReport(
    long Step,
    TrainingPhase Phase,
    double Loss,
    double? CompetenceLoss,
    double? ConformityLoss,
    double GradientNorm,
    double LearningRate,
    TimeSpan Elapsed,
    IReadOnlyDictionary<string, double> Metrics)
{
    /// <summary>A metric by name, or NaN when the step did not report it.</summary>
    public double Metric(string name) => Metrics.TryGetValue(name, out var v) ? v : double.NaN;

    /// <inheritdoc />
    public override string ToString() =>
        $"step {Step} {Phase.ToString().ToLowerInvariant()} loss={Loss:F4} |g|={GradientNorm:F3} lr={LearningRate:E2}"
        + string.Concat(Metrics.OrderBy(m => m.Key, StringComparer.Ordinal).Select(m => $" {m.Key}={m.Value:F4}"));
}

/// <summary>Metric names: those shared with Hugging Face TRL, and this library's own.</summary>
public static class MetricNames
{
    /// <summary>Mean implicit reward of the chosen responses.</summary>
    public const string RewardsChosen = "rewards/chosen";

    /// <summary>Mean implicit reward of the rejected responses.</summary>
    public const string RewardsRejected = "rewards/rejected";

    /// <summary>Mean of chosen minus rejected rewards.</summary>
    public const string RewardsMargins = "rewards/margins";

    /// <summary>Fraction of pairs whose chosen reward strictly exceeds the rejected one.</summary>
    public const string RewardsAccuracies = "rewards/accuracies";

    /// <summary>Mean policy log-prob of the chosen responses.</summary>
    public const string LogpsChosen = "logps/chosen";

    /// <summary>Mean policy log-prob of the rejected responses.</summary>
    public const string LogpsRejected = "logps/rejected";

    /// <summary>Fraction of scored positions where the student's argmax equals the hard target.</summary>
    public const string CompetenceAccuracy = "competence/accuracy";

    /// <summary>
    /// Cosine between the competence gradient g_c and the conformity gradient g_f of the step (0 when either is zero):
    /// negative when the two objectives pull the weights apart.
    /// </summary>
    public const string ConflictCosine = "conflict/cosine";

    /// <summary>The dot product g_c·g_f.</summary>
    public const string ConflictDot = "conflict/dot";

    /// <summary>|g_c|: norm of the gradient of the (unweighted, micro-batch mean) competence loss.</summary>
    public const string ConflictCompetenceNorm = "conflict/competence_norm";

    /// <summary>|g_f|: norm of the gradient of the (unweighted, micro-batch mean) conformity loss.</summary>
    public const string ConflictConformityNorm = "conflict/conformity_norm";

    /// <summary>
    /// 1 when <see cref="ConflictMode.ProjectConflicting"/> found g_c·g_f &lt; 0 and projected, 0 otherwise; reported on
    /// the joint steps of that mode.
    /// </summary>
    public const string ConflictProjected = "conflict/projected";

    /// <summary>
    /// MGDA's α* in [0, 1], the share of the (weighted) competence gradient in the min-norm direction; reported on the
    /// joint steps of <see cref="ConflictMode.MinNorm"/>.
    /// </summary>
    public const string ConflictMinNormAlpha = "conflict/mgda_alpha";

    /// <summary>On a direction-search step: the index of the winning candidate in <see cref="DirectionSearchOptions.Candidates"/>.</summary>
    public const string SearchWinner = "search/winner";

    /// <summary>On a direction-search step: 1 when the winner raised neither probe loss, else 0.</summary>
    public const string SearchParetoImprovement = "search/pareto";

    /// <summary>On a direction-search step: the competence probe loss before the update.</summary>
    public const string SearchProbeCompetence = "search/probe_competence";

    /// <summary>On a direction-search step: the conformity probe loss before the update.</summary>
    public const string SearchProbeConformity = "search/probe_conformity";

    /// <summary>On a direction-search step: the change of the competence probe loss the winner's update caused.</summary>
    public const string SearchCompetenceChange = "search/competence_change";

    /// <summary>On a direction-search step: the change of the conformity probe loss the winner's update caused.</summary>
    public const string SearchConformityChange = "search/conformity_change";
}

/// <summary>Thrown when a loss or gradient is NaN or infinite; the parameters are left as they were before the step.</summary>
public sealed class NonFiniteLossException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NonFiniteLossException(long step, TrainingPhase phase, string what, double value)
        : base($"Non-finite {what} ({value}) at step {step} ({phase} phase); the update was skipped and the parameters are unchanged.")
    {
        Step = step;
        Phase = phase;
        What = what;
        Value = value;
    }

    /// <summary>The update index.</summary>
    public long Step { get; }

    /// <summary>The phase of the step.</summary>
    public TrainingPhase Phase { get; }

    /// <summary>What was non-finite (e.g. "competence loss", "gradient norm").</summary>
    public string What { get; }

    /// <summary>The offending value.</summary>
    public double Value { get; }
}
