namespace Superalign.Optimization;

/// <summary>
/// How a step that trains both objectives (a <see cref="TrainingPhase.Joint"/> step) combines the competence gradient
/// g_c and the conformity gradient g_f into the update direction d, given the schedule's weights w_c and w_f.
/// </summary>
public enum ConflictMode
{
    /// <summary>The weighted sum d = w_c·g_c + w_f·g_f: the gradient of the weighted loss (one backward pass).</summary>
    None,

    /// <summary>
    /// PCGrad (Yu et al. 2020, "Gradient Surgery for Multi-Task Learning"): when g_c·g_f &lt; 0, each gradient is
    /// projected onto the normal plane of the other, g_c' = g_c − (g_c·g_f / |g_f|²)·g_f and
    /// g_f' = g_f − (g_c·g_f / |g_c|²)·g_c (both from the original gradients), then d = w_c·g_c' + w_f·g_f'.
    /// Without a conflict d is the weighted sum.
    /// </summary>
    ProjectConflicting,

    /// <summary>
    /// MGDA for two objectives (Désidéri 2012; Sener &amp; Koltun 2018): d is the point of minimum norm in the convex
    /// hull of the weighted gradients u = w_c·g_c and v = w_f·g_f, d = α*·u + (1 − α*)·v with
    /// α* = clamp(((v − u)·v) / |u − v|², 0, 1). Then d·u ≥ |d|² and d·v ≥ |d|²: a direction along which neither loss
    /// increases to first order (d = 0 at a Pareto-stationary point).
    /// </summary>
    MinNorm,
}
