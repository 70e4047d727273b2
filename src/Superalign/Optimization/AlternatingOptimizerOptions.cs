namespace Superalign.Optimization;

/// <summary>
/// Options of <see cref="AlternatingOptimizer"/>; validated when the optimizer is constructed (an invalid value throws
/// <see cref="ArgumentOutOfRangeException"/> naming the option and its allowed range).
/// </summary>
public sealed record AlternatingOptimizerOptions
{
    /// <summary>Planned number of optimizer updates (drives the schedules). Must be &gt;= 1.</summary>
    public long TotalSteps { get; init; } = 1000;

    /// <summary>Which phase each step trains. Default: alternate 1 competence : 1 conformity.</summary>
    public IAlternationSchedule Schedule { get; init; } = AlternationSchedules.FixedRatio(1, 1);

    /// <summary>Peak learning rate of AdamW. Must be finite and &gt; 0.</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Decoupled weight decay of AdamW. Must be finite and &gt;= 0.</summary>
    public double WeightDecay { get; init; } = 0.0;

    /// <summary>AdamW's β₁, in [0, 1).</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>AdamW's β₂, in [0, 1).</summary>
    public double Beta2 { get; init; } = 0.999;

    /// <summary>AdamW's ε. Must be finite and &gt; 0.</summary>
    public double Epsilon { get; init; } = 1e-8;

    /// <summary>Clip the global gradient norm to this value; 0 disables clipping. Must be finite and &gt;= 0.</summary>
    public double MaxGradientNorm { get; init; } = 1.0;

    /// <summary>Updates of linear learning-rate warm-up. Must be in [0, TotalSteps].</summary>
    public long WarmupSteps { get; init; }

    /// <summary>Decay after warm-up.</summary>
    public LearningRateDecay Decay { get; init; } = LearningRateDecay.Cosine;

    /// <summary>Final learning rate as a fraction of the peak, in [0, 1].</summary>
    public double MinLearningRateRatio { get; init; }

    /// <summary>Micro-batches whose gradients are summed (each scaled by 1/N) before one update. Must be &gt;= 1.</summary>
    public int GradientAccumulationSteps { get; init; } = 1;

    /// <summary>
    /// Keep all parameters and gradients in one flat buffer so that an AdamW update, the gradient norm and clipping
    /// cost a few native calls instead of a managed loop over tensors (same arithmetic as <c>torch.optim.AdamW</c>).
    /// Falls back to TorchSharp's AdamW when the parameters differ in dtype or device. Default: true.
    /// </summary>
    public bool FlatParameterBuffer { get; init; } = true;

    /// <summary>Log a summary line every this many updates (0 = never; every step is logged at Debug level).</summary>
    public int LogEvery { get; init; } = 50;

    /// <summary>
    /// Measure, on every step, how the competence gradient g_c and the conformity gradient g_f relate: their cosine,
    /// norms and dot product are reported as the <c>conflict/*</c> metrics of <see cref="StepReport"/> (see
    /// <see cref="MetricNames.ConflictCosine"/>). On a step that trains both losses the two gradients come from the
    /// step's own batches; on a single-phase step one extra batch of the other objective is pulled from its source
    /// (when that objective and source were given) and its gradient is computed without being applied. Costs one
    /// extra backward pass per step (and one extra forward on single-phase steps), and on alternating schedules it
    /// consumes batches of the other source, so the data order differs from a run without it. Default: false, in
    /// which case (with <see cref="ConflictMode"/> = <see cref="Optimization.ConflictMode.None"/>) a step is exactly
    /// what it was without the option.
    /// </summary>
    public bool ConflictDiagnostics { get; init; }

    /// <summary>
    /// How a step that trains both losses (the joint schedules) combines the two gradients. Default
    /// <see cref="Optimization.ConflictMode.None"/>: the weighted sum. Has no effect on single-phase steps, which have
    /// one gradient. With a mode other than None the step computes g_c and g_f separately (one extra backward) and
    /// reports the <c>conflict/*</c> metrics whether or not <see cref="ConflictDiagnostics"/> is set.
    /// </summary>
    public ConflictMode ConflictMode { get; init; } = ConflictMode.None;

    /// <summary>
    /// Search over learning directions: every <see cref="DirectionSearchOptions.Every"/> steps, try each candidate
    /// update, score it on held-out probe batches of both objectives and keep the best (see
    /// <see cref="DirectionSearchOptions"/>). When set, <see cref="Schedule"/> is not used: the steps between searches
    /// follow the last winner's plan. Needs both objectives and the flat parameter buffer. Default: null (no search).
    /// </summary>
    public DirectionSearchOptions? DirectionSearch { get; init; }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (TotalSteps < 1) throw Invalid(nameof(TotalSteps), TotalSteps, ">= 1");
        ArgumentNullException.ThrowIfNull(Schedule, nameof(Schedule));
        if (!(double.IsFinite(LearningRate) && LearningRate > 0)) throw Invalid(nameof(LearningRate), LearningRate, "finite and > 0");
        if (!(double.IsFinite(WeightDecay) && WeightDecay >= 0)) throw Invalid(nameof(WeightDecay), WeightDecay, "finite and >= 0");
        if (!(Beta1 >= 0 && Beta1 < 1)) throw Invalid(nameof(Beta1), Beta1, "in [0, 1)");
        if (!(Beta2 >= 0 && Beta2 < 1)) throw Invalid(nameof(Beta2), Beta2, "in [0, 1)");
        if (!(double.IsFinite(Epsilon) && Epsilon > 0)) throw Invalid(nameof(Epsilon), Epsilon, "finite and > 0");
        if (!(double.IsFinite(MaxGradientNorm) && MaxGradientNorm >= 0)) throw Invalid(nameof(MaxGradientNorm), MaxGradientNorm, "finite and >= 0 (0 disables clipping)");
        if (WarmupSteps < 0 || WarmupSteps > TotalSteps) throw Invalid(nameof(WarmupSteps), WarmupSteps, $"in [0, TotalSteps = {TotalSteps}]");
        if (!Enum.IsDefined(Decay)) throw Invalid(nameof(Decay), Decay, "a LearningRateDecay value");
        if (!(MinLearningRateRatio >= 0 && MinLearningRateRatio <= 1)) throw Invalid(nameof(MinLearningRateRatio), MinLearningRateRatio, "in [0, 1]");
        if (GradientAccumulationSteps < 1) throw Invalid(nameof(GradientAccumulationSteps), GradientAccumulationSteps, ">= 1");
        if (LogEvery < 0) throw Invalid(nameof(LogEvery), LogEvery, ">= 0");
        if (!Enum.IsDefined(ConflictMode)) throw Invalid(nameof(ConflictMode), ConflictMode, "a ConflictMode value (None, ProjectConflicting, MinNorm)");
        DirectionSearch?.Validate();
    }

    /// <summary>The learning rate of update <paramref name="step"/> under these options (warm-up, then the decay).</summary>
    internal double LearningRateAt(long step) =>
        LearningRateSchedule.At(step, TotalSteps, LearningRate, WarmupSteps, Decay, MinLearningRateRatio);

    private static ArgumentOutOfRangeException Invalid(string name, object value, string range) =>
        new(name, value, $"{nameof(AlternatingOptimizerOptions)}.{name} must be {range}; got {value}.");
}
