namespace Superalign.Experiments.Protocols;

/// <summary>
/// The training of one kind of model in a protocol (e.g. the weak model, the student or the ceiling of
/// <see cref="WeakToStrong"/>): every value left null takes the protocol's shared setting, so the defaults change nothing.
/// </summary>
public sealed record TrainingSettings
{
    /// <summary>Optimizer updates; null: the protocol's <c>Steps</c>. At least 1. Exclusive with <see cref="Epochs"/>.</summary>
    public int? Steps { get; init; }

    /// <summary>
    /// Passes over the model's training rows instead of a number of updates: <c>⌈Epochs · rows / batch size⌉</c>
    /// updates. Null: use <see cref="Steps"/>. Finite and &gt; 0. Exclusive with <see cref="Steps"/>.
    /// </summary>
    public double? Epochs { get; init; }

    /// <summary>Peak learning rate; null: the protocol's <c>LearningRate</c>. Finite and &gt; 0.</summary>
    public double? LearningRate { get; init; }

    /// <summary>Examples per batch; null: the protocol's <c>BatchSize</c>. At least 1.</summary>
    public int? BatchSize { get; init; }

    /// <summary>The updates, learning rate and batch size in force for a model trained on <paramref name="rows"/> rows.</summary>
    internal (int Steps, double LearningRate, int BatchSize) Resolve(int steps, double learningRate, int batchSize, int rows)
    {
        int batch = BatchSize ?? batchSize;
        int updates = Epochs is { } e ? (int)Math.Max(1, Math.Ceiling(e * rows / batch)) : Steps ?? steps;
        return (updates, LearningRate ?? learningRate, batch);
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming <c>owner.option.Field</c> for the first invalid value.</summary>
    internal void Validate(string option, string owner)
    {
        string where = $"{option}.";
        if (Steps is { } s) ProtocolCheck.AtLeast(s, 1, where + nameof(Steps), owner);
        if (Epochs is { } e) ProtocolCheck.Positive(e, where + nameof(Epochs), owner);
        if (Steps is not null && Epochs is not null)
            throw new ArgumentOutOfRangeException(where + nameof(Epochs), Epochs, $"{owner}.{where}{nameof(Steps)} and {owner}.{where}{nameof(Epochs)} exclude each other; set one.");
        if (LearningRate is { } lr) ProtocolCheck.Positive(lr, where + nameof(LearningRate), owner);
        if (BatchSize is { } b) ProtocolCheck.AtLeast(b, 1, where + nameof(BatchSize), owner);
    }
}
