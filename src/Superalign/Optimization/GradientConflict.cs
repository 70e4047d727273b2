using static TorchSharp.torch;

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

/// <summary>The inner products of the competence gradient g_c and the conformity gradient g_f.</summary>
/// <param name="CompetenceSquaredNorm">|g_c|².</param>
/// <param name="ConformitySquaredNorm">|g_f|².</param>
/// <param name="Dot">g_c·g_f.</param>
internal readonly record struct GradientGeometry(double CompetenceSquaredNorm, double ConformitySquaredNorm, double Dot)
{
    public double CompetenceNorm => Math.Sqrt(CompetenceSquaredNorm);

    public double ConformityNorm => Math.Sqrt(ConformitySquaredNorm);

    /// <summary>g_c·g_f / (|g_c|·|g_f|), clamped to [−1, 1]; 0 when either gradient is zero.</summary>
    public double Cosine
    {
        get
        {
            double denominator = CompetenceNorm * ConformityNorm;
            return denominator > 0 ? Math.Clamp(Dot / denominator, -1, 1) : 0;
        }
    }

    public bool IsFinite => double.IsFinite(CompetenceSquaredNorm) && double.IsFinite(ConformitySquaredNorm) && double.IsFinite(Dot);

    /// <summary>The geometry of w_c·g_c and w_f·g_f.</summary>
    public GradientGeometry Scaled(double competenceWeight, double conformityWeight) =>
        new(competenceWeight * competenceWeight * CompetenceSquaredNorm,
            conformityWeight * conformityWeight * ConformitySquaredNorm,
            competenceWeight * conformityWeight * Dot);
}

/// <summary>The update direction as d = CompetenceCoefficient·g_c + ConformityCoefficient·g_f.</summary>
/// <param name="CompetenceCoefficient">Coefficient of the (unweighted) competence gradient.</param>
/// <param name="ConformityCoefficient">Coefficient of the (unweighted) conformity gradient.</param>
/// <param name="Projected">Whether PCGrad found a conflict and projected.</param>
/// <param name="MinNormAlpha">MGDA's α* (weight of w_c·g_c in the hull); NaN for the other modes.</param>
internal readonly record struct GradientCombination(double CompetenceCoefficient, double ConformityCoefficient, bool Projected, double MinNormAlpha);

/// <summary>
/// The two-objective gradient combinations of <see cref="ConflictMode"/>. With two gradients every mode yields
/// d = a·g_c + b·g_f for scalars a and b that depend only on |g_c|², |g_f|² and g_c·g_f, so the optimizer measures
/// those three numbers (one pass over the gradients) and forms d in place, whatever the gradients' layout.
/// </summary>
internal static class GradientConflict
{
    /// <summary>The coefficients of the update direction for the schedule weights and mode.</summary>
    public static GradientCombination Combine(GradientGeometry g, double competenceWeight, double conformityWeight, ConflictMode mode)
    {
        switch (mode)
        {
            case ConflictMode.None:
                return new(competenceWeight, conformityWeight, false, double.NaN);
            case ConflictMode.ProjectConflicting:
            {
                var (onCompetence, onConformity, projected) = Projection(g);
                // d = w_c (g_c + p_c g_f) + w_f (g_f + p_f g_c)
                return new(competenceWeight + conformityWeight * onConformity, conformityWeight + competenceWeight * onCompetence, projected, double.NaN);
            }
            case ConflictMode.MinNorm:
            {
                double alpha = MinNormAlpha(g.Scaled(competenceWeight, conformityWeight));
                return new(alpha * competenceWeight, (1 - alpha) * conformityWeight, false, alpha);
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown ConflictMode.");
        }
    }

    /// <summary>
    /// PCGrad's projections as coefficients: g_c' = g_c + OnCompetence·g_f and g_f' = g_f + OnConformity·g_c, with
    /// OnCompetence = −g_c·g_f/|g_f|² and OnConformity = −g_c·g_f/|g_c|² when g_c·g_f &lt; 0, else both 0.
    /// </summary>
    public static (double OnCompetence, double OnConformity, bool Projected) Projection(GradientGeometry g)
    {
        // A negative dot product implies both norms are > 0.
        if (!(g.Dot < 0)) return (0, 0, false);
        return (-g.Dot / g.ConformitySquaredNorm, -g.Dot / g.CompetenceSquaredNorm, true);
    }

    /// <summary>
    /// α* = clamp(((g_f − g_c)·g_f) / |g_c − g_f|², 0, 1), the minimiser of |α·g_c + (1 − α)·g_f| over [0, 1]. When
    /// the two gradients (nearly) coincide every α gives the same point and 0.5 is returned.
    /// </summary>
    public static double MinNormAlpha(GradientGeometry g)
    {
        double cc = g.CompetenceSquaredNorm, ff = g.ConformitySquaredNorm;
        double difference = cc + ff - 2 * g.Dot; // |g_c − g_f|²
        if (!(difference > 1e-12 * (cc + ff))) return 0.5;
        return Math.Clamp((ff - g.Dot) / difference, 0, 1);
    }

    /// <summary>The geometry of two gradient vectors of any shape (flattened).</summary>
    public static GradientGeometry Measure(Tensor competence, Tensor conformity)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var c = competence.detach().reshape(-1);
        var f = conformity.detach().reshape(-1);
        var values = stack(new[] { c.dot(c), f.dot(f), c.dot(f) }).to_type(ScalarType.Float64).cpu().data<double>().ToArray();
        return new GradientGeometry(values[0], values[1], values[2]);
    }

    /// <summary>The update direction for two gradient vectors (same shape), and its coefficients.</summary>
    public static (Tensor Direction, GradientCombination Combination) Combine(
        Tensor competence, Tensor conformity, double competenceWeight, double conformityWeight, ConflictMode mode)
    {
        var combination = Combine(Measure(competence, conformity), competenceWeight, conformityWeight, mode);
        using var _ = no_grad();
        var d = competence.detach() * combination.CompetenceCoefficient + conformity.detach() * combination.ConformityCoefficient;
        return (d, combination);
    }

    /// <summary>PCGrad's projected pair (g_c', g_f') for two gradient vectors (same shape).</summary>
    public static (Tensor Competence, Tensor Conformity, bool Projected) ProjectConflicting(Tensor competence, Tensor conformity)
    {
        var (onCompetence, onConformity, projected) = Projection(Measure(competence, conformity));
        using var _ = no_grad();
        return (competence.detach() + conformity.detach() * onCompetence, conformity.detach() + competence.detach() * onConformity, projected);
    }
}

/// <summary>
/// A copy of the gradients an updater reads (its flat gradient buffer, or one tensor per parameter), and the in-place
/// operations the conflict-aware step needs on them. The copies belong to the dispose scope they were made in.
/// </summary>
internal sealed class GradientSnapshot
{
    private readonly Tensor?[] _parts;

    private GradientSnapshot(Tensor?[] parts) => _parts = parts;

    /// <summary>Copies <paramref name="gradients"/> (null entries stay null: no gradient, i.e. zero).</summary>
    public static GradientSnapshot Take(IReadOnlyList<Tensor?> gradients)
    {
        using var _ = no_grad();
        return new GradientSnapshot(gradients.Select(g => g?.detach().clone()).ToArray());
    }

    /// <summary>Zeroes the gradients in place, keeping every gradient tensor allocated.</summary>
    public static void ZeroInPlace(IReadOnlyList<Tensor?> gradients)
    {
        using var _ = no_grad();
        foreach (var g in gradients) g?.zero_();
    }

    /// <summary>
    /// (|s|², |g|², s·g) for this snapshot s and the current <paramref name="gradients"/> g, accumulated in double
    /// over the parts (which may differ from one another in dtype and device; a part and its copy never do).
    /// </summary>
    public (double SnapshotSquaredNorm, double CurrentSquaredNorm, double Dot) Inner(IReadOnlyList<Tensor?> gradients)
    {
        CheckParts(gradients);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        double ss = 0, gg = 0, sg = 0;
        for (int i = 0; i < _parts.Length; i++)
        {
            var s = _parts[i]?.reshape(-1);
            var g = gradients[i]?.detach().reshape(-1);
            if (s is null && g is null) continue;
            var products = s is null ? new[] { g!.dot(g) }
                : g is null ? new[] { s.dot(s) }
                : new[] { s.dot(s), g.dot(g), s.dot(g) };
            var v = stack(products).to_type(ScalarType.Float64).cpu().data<double>().ToArray();
            if (s is null) gg += v[0];
            else if (g is null) ss += v[0];
            else { ss += v[0]; gg += v[1]; sg += v[2]; }
        }
        return (ss, gg, sg);
    }

    /// <summary>Writes the snapshot back into <paramref name="gradients"/>, in place (a null part zeroes its gradient).</summary>
    public void CopyInto(IReadOnlyList<Tensor?> gradients)
    {
        CheckParts(gradients);
        using var _ = no_grad();
        for (int i = 0; i < _parts.Length; i++)
        {
            var g = gradients[i];
            if (g is null)
            {
                if (_parts[i] is null) continue;
                throw new InvalidOperationException("A parameter lost its gradient since the snapshot was taken; it cannot be written back.");
            }
            if (_parts[i] is { } s) g.copy_(s);
            else g.zero_();
        }
    }

    /// <summary>Writes a·s + b·g into the current gradients g, in place.</summary>
    /// <exception cref="InvalidOperationException">A parameter had a gradient in the snapshot but has none now.</exception>
    public void CombineInto(IReadOnlyList<Tensor?> gradients, double snapshotCoefficient, double currentCoefficient)
    {
        CheckParts(gradients);
        using var _ = no_grad();
        for (int i = 0; i < _parts.Length; i++)
        {
            var s = _parts[i];
            var g = gradients[i];
            if (g is null)
            {
                if (s is null || snapshotCoefficient == 0) continue;
                throw new InvalidOperationException(
                    "A parameter lost its gradient between the competence and conformity backward passes; the gradients cannot be combined.");
            }
            g.mul_(currentCoefficient);
            if (s is not null) g.add_(s, alpha: snapshotCoefficient);
        }
    }

    private void CheckParts(IReadOnlyList<Tensor?> gradients)
    {
        if (gradients.Count != _parts.Length)
            throw new InvalidOperationException($"The snapshot has {_parts.Length} gradient parts; got {gradients.Count}.");
    }
}
