using static TorchSharp.torch;

namespace Superalign.Objectives.Competence;

/// <summary>
/// A validated competence input in the dtype the loss is computed in: log-probabilities <c>[B, T, V]</c>, mask
/// <c>[B, T]</c>, and detached soft targets <c>[B, T, V]</c> (or null).
/// </summary>
internal readonly record struct Prepared(Tensor LogProbs, Tensor Mask, Tensor? SoftTargets, long Batch, long Positions, long Classes);

/// <summary>Validation and reductions shared by the competence objectives.</summary>
internal static class CompetenceTensors
{
    /// <summary>
    /// Checks shapes and presence of soft targets, then returns the log-softmax of the logits. Float32 and float64
    /// logits are used as they are; half-precision logits are computed in float32 (soft labels and log-probs lose
    /// too much in 16 bits). Soft targets are detached and accepted as <c>[B, V]</c> when <c>T = 1</c>.
    /// </summary>
    public static Prepared Prepare(CompetenceInput input, string objective, bool needsSoftTargets)
    {
        ArgumentNullException.ThrowIfNull(input);
        var logits = input.Logits ?? throw new ArgumentException($"{objective}: Logits is null.", nameof(input));
        if (logits.dim() != 3)
            throw new ArgumentException($"{objective}: Logits must have shape [B, T, V]; got {Shape(logits)}.", nameof(input));
        if (!is_floating_point(logits))
            throw new ArgumentException($"{objective}: Logits must be floating point; got {logits.dtype}.", nameof(input));
        long b = logits.shape[0], t = logits.shape[1], v = logits.shape[2];
        if (input.Targets is null || input.Targets.dim() != 2 || input.Targets.shape[0] != b || input.Targets.shape[1] != t)
            throw new ArgumentException($"{objective}: Targets must have shape [{b}, {t}] to match Logits {Shape(logits)}; got {Shape(input.Targets)}.", nameof(input));
        if (input.Mask is null || input.Mask.dim() != 2 || input.Mask.shape[0] != b || input.Mask.shape[1] != t)
            throw new ArgumentException($"{objective}: Mask must have shape [{b}, {t}] to match Logits {Shape(logits)}; got {Shape(input.Mask)}.", nameof(input));

        var soft = input.SoftTargets;
        if (soft is null && needsSoftTargets)
            throw new ArgumentException(
                $"The '{objective}' objective trains on soft labels, but CompetenceInput.SoftTargets is null: give the batch the supervisor's probabilities (SupervisedBatch.SoftTargets, [B, V] or [B, T, V]).",
                nameof(input));
        if (soft is not null)
        {
            bool perPosition = soft.dim() == 3 && soft.shape[0] == b && soft.shape[1] == t && soft.shape[2] == v;
            bool perExample = soft.dim() == 2 && t == 1 && soft.shape[0] == b && soft.shape[1] == v;
            if (!perPosition && !perExample)
                throw new ArgumentException(
                    $"{objective}: SoftTargets must have shape [{b}, {t}, {v}]{(t == 1 ? $" or [{b}, {v}]" : "")} to match Logits {Shape(logits)}; got {Shape(soft)}.",
                    nameof(input));
            if (perExample) soft = soft.unsqueeze(1);
        }

        var dtype = logits.dtype is ScalarType.Float64 or ScalarType.Float32 ? logits.dtype : ScalarType.Float32;
        var logp = logits.to_type(dtype).log_softmax(-1);
        return new Prepared(logp, input.Mask.to_type(dtype), soft?.detach().to_type(dtype), b, t, v);
    }

    /// <summary>
    /// <c>sum(perPosition · mask) / sum(mask)</c>: the mean over scored positions, for classifiers (T = 1) and LMs
    /// alike. A batch without scored positions gives 0 (the denominator is floored at a tiny positive value).
    /// </summary>
    public static Tensor MaskedMean(Tensor perPosition, Tensor mask) =>
        (perPosition * mask).sum() / mask.sum().clamp_min(1e-12);

    /// <summary>Per-position cross-entropy <c>−Σ_c target_c · logp_c</c>, shape <c>[B, T]</c>.</summary>
    public static Tensor SoftCrossEntropy(Tensor target, Tensor logp) => -(target * logp).sum(-1);

    /// <summary>Shape as <c>[a, b, c]</c> for messages.</summary>
    public static string Shape(Tensor? x) => x is null ? "null" : $"[{string.Join(", ", x.shape)}]";

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming <paramref name="name"/> unless the value lies in the range.</summary>
    public static double CheckRange(double value, string name, double min, double max, bool maxInclusive = true)
    {
        bool ok = value >= min && (maxInclusive ? value <= max : value < max); // false for NaN
        if (!ok)
            throw new ArgumentOutOfRangeException(name, value,
                $"{name} must be in [{Format(min)}, {Format(max)}{(maxInclusive ? "]" : ")")}; got {Format(value)}.");
        return value;
    }

    private static string Format(double v) =>
        double.IsPositiveInfinity(v) ? "∞" : v.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
