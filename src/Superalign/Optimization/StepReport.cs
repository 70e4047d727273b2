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
