using Superalign.Data;
using static TorchSharp.torch;

namespace Superalign.Optimization;

/// <summary>
/// Where the two objectives' gradients meet in a plain step: on a step that trains both, g_c and g_f kept apart and
/// combined as <see cref="AlternatingOptimizerOptions.ConflictMode"/> says; on a single-phase step with
/// <see cref="AlternatingOptimizerOptions.ConflictDiagnostics"/>, the other objective's gradient on one borrowed batch,
/// measured against the step's own.
/// </summary>
internal sealed class ConflictAwareGradients(StepLosses losses, IParameterUpdater updater, ConflictMode mode)
{
    /// <summary>
    /// A step that trains both losses, with their gradients kept apart: g_c (all micro-batches) is set aside, g_f
    /// accumulates in the gradients, and the gradients become d = a·g_c + b·g_f as the conflict mode says (for
    /// <see cref="ConflictMode.None"/>, the weighted sum). Clipping comes after, on d.
    /// </summary>
    public void CombineSeparate(StepSums sums, IBatchSource<SupervisedBatch> competenceData, IBatchSource<PreferenceBatch> conformityData)
    {
        // Unweighted: the schedule's weights enter when the two are combined.
        var kept = GradientsKeptApart.Accumulate(losses, updater, sums, competenceData, conformityData, copyConformity: false);
        var combination = GradientConflict.Combine(kept.Geometry, sums.Plan.CompetenceWeight, sums.Plan.ConformityWeight, mode);
        kept.Competence.CombineInto(updater.Gradients(), combination.CompetenceCoefficient, combination.ConformityCoefficient);
        combination.Report(mode, sums.Metrics);
    }

    /// <summary>
    /// The gradient of the other objective's unweighted loss on one batch of its source, copied out of the gradients,
    /// which are then zeroed again. Its loss and metrics are not reported: the step does not train on it.
    /// </summary>
    public GradientSnapshot ProbeOtherObjective(StepSums sums, IBatchSource<SupervisedBatch>? competenceData, IBatchSource<PreferenceBatch>? conformityData)
    {
        using (NewDisposeScope())
        {
            var loss = competenceData is not null
                ? losses.CompetenceForward(competenceData.Next(), sums.Progress).Loss
                : losses.ConformityForward(conformityData!.Next()).Loss;
            StepLosses.Check(loss, sums.Step, sums.Plan.Phase, competenceData is not null ? "competence loss (conflict diagnostics)" : "conformity loss (conflict diagnostics)");
            loss.backward();
        }
        var other = GradientSnapshot.Take(updater.Gradients());
        GradientSnapshot.ZeroInPlace(updater.Gradients());
        return other;
    }

    /// <summary>
    /// Reports the geometry of the probed gradient of the other objective against the step's own, which the
    /// gradients hold scaled by the phase's weight w.
    /// </summary>
    public void MeasureAgainst(GradientSnapshot other, StepSums sums, bool competenceStep)
    {
        var (oo, pp, op) = other.Inner(updater.Gradients());
        double w = competenceStep ? sums.Plan.CompetenceWeight : sums.Plan.ConformityWeight;
        var (ownSq, dot) = (pp / (w * w), op / w);
        GradientsKeptApart.Measured(competenceStep ? new GradientGeometry(ownSq, oo, dot) : new GradientGeometry(oo, ownSq, dot), sums);
    }
}
