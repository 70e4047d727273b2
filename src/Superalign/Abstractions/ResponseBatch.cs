using TorchSharp;
using static TorchSharp.torch;

namespace Superalign;

/// <summary>
/// Inputs and the responses whose log-probabilities a student scores: the one data shape shared by classifiers and
/// causal language models.
/// </summary>
/// <remarks>
/// A student maps <see cref="Inputs"/> to logits of shape <c>[B, T, V]</c> aligned with <see cref="Targets"/>
/// (<c>[B, T]</c> token or class ids); <see cref="Mask"/> (<c>[B, T]</c>, float 0/1) selects the positions that belong
/// to the response. The response's log-probability is the masked sum over positions of <c>log p(target | input)</c>.
/// <list type="bullet">
/// <item>Classifier (<see cref="ForClassification"/>): inputs <c>[B, F]</c> features, <c>T = 1</c>, the response is a
/// class and <c>V</c> the number of classes.</item>
/// <item>Causal LM (<see cref="ForCausalLm"/>): inputs are the token sequence without its last token, targets the
/// sequence shifted by one, and the mask covers the response tokens only (not the prompt, not padding).</item>
/// </list>
/// Targets at masked positions are never read and may hold any value (padding); targets at scored positions must be
/// ids of the student's vocabulary. PyTorch's and TRL's ignore label −100 is not an "ignore" here: leave a position out
/// with the mask. The optimizers check every batch against the student before the forward pass
/// (<see cref="BatchCheck"/>) and reject a bad one with an <see cref="InvalidBatchException"/>.
/// Batches do not own their tensors: tensors created inside a training step belong to that step's dispose scope.
/// </remarks>
public sealed record ResponseBatch
{
    /// <summary>Creates a batch after checking that the shapes agree.</summary>
    /// <exception cref="ArgumentException">The shapes or dtypes do not agree; the message names the parameter.</exception>
    public ResponseBatch(Tensor inputs, Tensor targets, Tensor mask)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(mask);
        if (targets.dim() != 2)
            throw new ArgumentException($"targets must have shape [B, T]; got [{string.Join(", ", targets.shape)}].", nameof(targets));
        if (targets.dtype != ScalarType.Int64)
            throw new ArgumentException($"targets must be int64 ids; got {targets.dtype}.", nameof(targets));
        if (!mask.shape.SequenceEqual(targets.shape))
            throw new ArgumentException($"mask must have the shape of targets [{string.Join(", ", targets.shape)}]; got [{string.Join(", ", mask.shape)}].", nameof(mask));
        if (inputs.dim() < 1 || inputs.shape[0] != targets.shape[0])
            throw new ArgumentException($"inputs must have batch size {targets.shape[0]} (that of targets); got shape [{string.Join(", ", inputs.shape)}].", nameof(inputs));
        Inputs = inputs;
        Targets = targets;
        Mask = mask.dtype == ScalarType.Float32 ? mask : mask.to_type(ScalarType.Float32);
    }

    /// <summary>What the student reads: features <c>[B, F]</c> or tokens <c>[B, L]</c>.</summary>
    public Tensor Inputs { get; }

    /// <summary>Response ids <c>[B, T]</c> (int64); read only where <see cref="Mask"/> is not 0.</summary>
    public Tensor Targets { get; }

    /// <summary>Response positions <c>[B, T]</c> (float32, 1 = scored).</summary>
    public Tensor Mask { get; }

    /// <summary>Number of examples.</summary>
    public long Count => Targets.shape[0];

    /// <summary>Number of scored positions per example <c>[B]</c> (at least 1 for a well-formed response).</summary>
    public Tensor Lengths() => Mask.sum(1);

    /// <summary>A classification batch: features <c>[B, F]</c> and class ids <c>[B]</c>.</summary>
    public static ResponseBatch ForClassification(Tensor features, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.dim() != 1)
            throw new ArgumentException($"labels must have shape [B]; got [{string.Join(", ", labels.shape)}].", nameof(labels));
        var targets = labels.dtype == ScalarType.Int64 ? labels.unsqueeze(1) : labels.to_type(ScalarType.Int64).unsqueeze(1);
        return new ResponseBatch(features, targets, ones(targets.shape, dtype: ScalarType.Float32, device: targets.device));
    }

    /// <summary>
    /// A causal-LM batch from full sequences <c>[B, L]</c> (prompt then response then padding) and a mask <c>[B, L]</c>
    /// that is 1 on response tokens. Position <c>t</c> of the logits predicts token <c>t + 1</c>.
    /// </summary>
    public static ResponseBatch ForCausalLm(Tensor tokens, Tensor responseMask)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(responseMask);
        if (tokens.dim() != 2 || tokens.shape[1] < 2)
            throw new ArgumentException($"tokens must have shape [B, L] with L >= 2; got [{string.Join(", ", tokens.shape)}].", nameof(tokens));
        if (!responseMask.shape.SequenceEqual(tokens.shape))
            throw new ArgumentException($"responseMask must have the shape of tokens [{string.Join(", ", tokens.shape)}]; got [{string.Join(", ", responseMask.shape)}].", nameof(responseMask));
        long length = tokens.shape[1];
        return new ResponseBatch(
            tokens.narrow(1, 0, length - 1),
            tokens.narrow(1, 1, length - 1).to_type(ScalarType.Int64),
            responseMask.narrow(1, 1, length - 1).to_type(ScalarType.Float32));
    }

    /// <summary>The same batch on <paramref name="device"/> (no copy when already there).</summary>
    public ResponseBatch To(Device device) =>
        Inputs.IsOn(device) && Targets.IsOn(device) && Mask.IsOn(device)
            ? this
            : new ResponseBatch(Inputs.to(device), Targets.to(device), Mask.to(device));

    /// <summary>Rows <paramref name="index"/> (int64 indices) of the batch.</summary>
    public ResponseBatch Select(Tensor index) =>
        new(Inputs.index_select(0, index), Targets.index_select(0, index), Mask.index_select(0, index));

    /// <summary>
    /// Stacks two batches along the batch dimension, right-padding the shorter sequence dimension of integer inputs,
    /// targets and masks with zeros (padded positions are masked out). Used to run chosen and rejected responses
    /// through a student in one forward pass.
    /// </summary>
    public static ResponseBatch Concat(ResponseBatch first, ResponseBatch second)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        return new ResponseBatch(
            CatPadded(first.Inputs, second.Inputs, nameof(Inputs)),
            CatPadded(first.Targets, second.Targets, nameof(Targets)),
            CatPadded(first.Mask, second.Mask, nameof(Mask)));
    }

    private static Tensor CatPadded(Tensor a, Tensor b, string what)
    {
        if (a.dim() != b.dim())
            throw new ArgumentException($"{what} of the two batches have different ranks ({a.dim()} and {b.dim()}).");
        if (a.dim() == 1 || a.shape.Skip(1).SequenceEqual(b.shape.Skip(1)))
            return cat(new[] { a, b }, 0);
        if (a.dim() != 2 || a.is_floating_point() && what == nameof(Inputs))
            throw new ArgumentException($"{what} of the two batches have shapes [{string.Join(", ", a.shape)}] and [{string.Join(", ", b.shape)}], which cannot be padded to one another.");
        long width = Math.Max(a.shape[1], b.shape[1]);
        return cat(new[] { PadRight(a, width), PadRight(b, width) }, 0);
    }

    private static Tensor PadRight(Tensor t, long width) =>
        t.shape[1] == width ? t : nn.functional.pad(t, new long[] { 0, width - t.shape[1] }, value: 0);
}
