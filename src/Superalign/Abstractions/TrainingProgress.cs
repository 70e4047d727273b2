namespace Superalign;

/// <summary>Where training stands, for objectives whose form changes over training (e.g. <c>logconf</c>'s warm-up).</summary>
/// <param name="Step">Optimizer steps completed before this one.</param>
/// <param name="TotalSteps">Planned optimizer steps (at least 1).</param>
public readonly record struct TrainingProgress(long Step, long TotalSteps)
{
    /// <summary><c>Step / TotalSteps</c>, clamped to [0, 1].</summary>
    public double Fraction => TotalSteps <= 0 ? 0 : Math.Clamp((double)Step / TotalSteps, 0, 1);
}
