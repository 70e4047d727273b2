namespace Superalign.Optimization;

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
internal readonly record struct GradientCombination(double CompetenceCoefficient, double ConformityCoefficient, bool Projected, double MinNormAlpha)
{
    /// <summary>Adds the mode's own metric of a joint step's combination (PCGrad: projected or not; MGDA: α*) to <paramref name="metrics"/>.</summary>
    public void Report(ConflictMode mode, Dictionary<string, double> metrics)
    {
        if (mode == ConflictMode.ProjectConflicting)
            metrics[MetricNames.ConflictProjected] = Projected ? 1 : 0;
        else if (mode == ConflictMode.MinNorm)
            metrics[MetricNames.ConflictMinNormAlpha] = MinNormAlpha;
    }
}

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
}
