using Superalign.Data;

namespace Superalign.Optimization;

/// <summary>
/// The competence gradient g_c and the conformity gradient g_f of one step's micro-batches, kept apart: g_c (unweighted,
/// all micro-batches) is copied out and the gradients zeroed before g_f (unweighted) accumulates, so the gradients then
/// hold g_f alone. The conflict-aware joint step and the direction-search step both start from this.
/// </summary>
/// <param name="Competence">The copy of g_c.</param>
/// <param name="Conformity">A copy of g_f, when one was asked for (the gradients hold g_f either way).</param>
/// <param name="Geometry">|g_c|², |g_f|² and g_c·g_f, checked finite and added to the step's metrics.</param>
internal readonly record struct GradientsKeptApart(GradientSnapshot Competence, GradientSnapshot? Conformity, GradientGeometry Geometry)
{
    /// <summary>
    /// Accumulates g_c, sets it aside, accumulates g_f and measures the two; the losses and metrics of both go into
    /// <paramref name="sums"/> with the plan's weights.
    /// </summary>
    public static GradientsKeptApart Accumulate(StepLosses losses, IParameterUpdater updater, StepSums sums,
        IBatchSource<SupervisedBatch> competenceData, IBatchSource<PreferenceBatch> conformityData, bool copyConformity)
    {
        losses.Accumulate(sums, competenceData, null, 1, 0);
        var competence = GradientSnapshot.Take(updater.Gradients());
        GradientSnapshot.ZeroInPlace(updater.Gradients());
        losses.Accumulate(sums, null, conformityData, 0, 1);
        var conformity = copyConformity ? GradientSnapshot.Take(updater.Gradients()) : null;
        var (cc, ff, cf) = competence.Inner(updater.Gradients());
        var geometry = Measured(new GradientGeometry(cc, ff, cf), sums);
        return new GradientsKeptApart(competence, conformity, geometry);
    }

    /// <summary>Checks the two gradient norms and their dot product, and adds the geometry's metrics to the step's.</summary>
    public static GradientGeometry Measured(GradientGeometry g, StepSums sums)
    {
        StepLosses.Check(g.CompetenceNorm, sums.Step, sums.Plan.Phase, "competence gradient norm");
        StepLosses.Check(g.ConformityNorm, sums.Step, sums.Plan.Phase, "conformity gradient norm");
        StepLosses.Check(g.Dot, sums.Step, sums.Plan.Phase, "dot product of the competence and conformity gradients");
        sums.Metrics[MetricNames.ConflictCosine] = g.Cosine;
        sums.Metrics[MetricNames.ConflictDot] = g.Dot;
        sums.Metrics[MetricNames.ConflictCompetenceNorm] = g.CompetenceNorm;
        sums.Metrics[MetricNames.ConflictConformityNorm] = g.ConformityNorm;
        return g;
    }
}
