using static TorchSharp.torch;

namespace Superalign;

/// <summary>Log-probability helpers shared by objectives, students and reference policies.</summary>
public static class LogProbs
{
    /// <summary>
    /// Per-position log-probabilities of <paramref name="targets"/> under <paramref name="logits"/> (<c>[B, T, V]</c>),
    /// shape <c>[B, T]</c>; computed with a fused log-softmax + gather (cross-entropy with no reduction).
    /// </summary>
    public static Tensor Token(Tensor logits, Tensor targets)
    {
        if (logits.dim() != 3)
            throw new ArgumentException($"logits must have shape [B, T, V]; got [{string.Join(", ", logits.shape)}].", nameof(logits));
        long b = logits.shape[0], t = logits.shape[1], v = logits.shape[2];
        if (targets.shape[0] != b || targets.shape[1] != t)
            throw new ArgumentException($"targets must have shape [{b}, {t}]; got [{string.Join(", ", targets.shape)}].", nameof(targets));
        var nll = nn.functional.cross_entropy(logits.reshape(b * t, v), targets.reshape(b * t), reduction: nn.Reduction.None);
        return nll.neg().view(b, t);
    }

    /// <summary>Sequence log-probabilities <c>[B]</c>: the masked sum of <see cref="Token"/> over positions.</summary>
    /// <remarks>
    /// Targets at masked positions (mask 0) are never read: they may hold any value, padding or PyTorch's ignore index
    /// −100 alike (they are replaced by 0 before the gather and contribute 0). Targets at scored positions must be ids
    /// in [0, V); <see cref="BatchCheck"/> checks that before the optimizers' forward passes.
    /// </remarks>
    public static Tensor Sequence(Tensor logits, Tensor targets, Tensor mask) =>
        (Token(logits, targets.masked_fill(mask == 0, 0)) * mask).sum(1);

    /// <summary>Sequence log-probabilities <c>[B]</c> of <paramref name="batch"/>'s responses under <paramref name="student"/>.</summary>
    public static Tensor Sequence(IStudent student, ResponseBatch batch) =>
        Sequence(student.Logits(batch), batch.Targets, batch.Mask);

    /// <summary>
    /// Policy log-probs of both sides of a preference batch with one forward pass: a single pass when the two sides
    /// share their inputs, otherwise one pass over the concatenated <c>2B</c> batch.
    /// </summary>
    public static (Tensor Chosen, Tensor Rejected) Pair(IStudent student, PreferenceBatch batch) => Pair(student, batch, null);

    /// <summary><see cref="Pair(IStudent, PreferenceBatch)"/>, showing the logits to <paramref name="inspect"/> before they are read.</summary>
    internal static (Tensor Chosen, Tensor Rejected) Pair(IStudent student, PreferenceBatch batch, Action<Tensor>? inspect)
    {
        if (batch.SharesInputs && batch.Chosen.Targets.shape[1] == batch.Rejected.Targets.shape[1])
        {
            var logits = student.Logits(batch.Chosen);
            inspect?.Invoke(logits);
            return (Sequence(logits, batch.Chosen.Targets, batch.Chosen.Mask),
                    Sequence(logits, batch.Rejected.Targets, batch.Rejected.Mask));
        }
        var both = ResponseBatch.Concat(batch.Chosen, batch.Rejected);
        var bothLogits = student.Logits(both);
        inspect?.Invoke(bothLogits);
        var all = Sequence(bothLogits, both.Targets, both.Mask);
        long n = batch.Chosen.Count;
        return (all.narrow(0, 0, n), all.narrow(0, n, n));
    }
}
