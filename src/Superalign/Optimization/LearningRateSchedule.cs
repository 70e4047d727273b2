namespace Superalign.Optimization;

/// <summary>How the learning rate decays after warm-up.</summary>
public enum LearningRateDecay
{
    /// <summary>Half-cosine from the peak to <c>peak · MinLearningRateRatio</c> at the last step.</summary>
    Cosine,

    /// <summary>Straight line from the peak to <c>peak · MinLearningRateRatio</c>.</summary>
    Linear,

    /// <summary>No decay after warm-up.</summary>
    Constant,
}

/// <summary>Linear warm-up, then decay: the learning rate of each optimizer update.</summary>
public static class LearningRateSchedule
{
    /// <summary>
    /// The learning rate of update <paramref name="step"/> (0-based): <c>peak·(step+1)/warmup</c> during warm-up, then
    /// the chosen decay from <paramref name="peak"/> towards <c>peak·minRatio</c>, reached at step <c>totalSteps</c>.
    /// </summary>
    public static double At(long step, long totalSteps, double peak, long warmupSteps, LearningRateDecay decay, double minRatio)
    {
        if (step < warmupSteps) return peak * (step + 1) / warmupSteps;
        long decaySteps = totalSteps - warmupSteps;
        // As in Hugging Face's schedulers the floor is reached at step totalSteps, so the last update still moves.
        double x = decaySteps <= 0 ? 0 : Math.Clamp((double)(step - warmupSteps) / decaySteps, 0, 1);
        double floor = peak * minRatio;
        return decay switch
        {
            LearningRateDecay.Constant => peak,
            LearningRateDecay.Linear => peak + (floor - peak) * x,
            _ => floor + (peak - floor) * 0.5 * (1 + Math.Cos(Math.PI * x)),
        };
    }
}
