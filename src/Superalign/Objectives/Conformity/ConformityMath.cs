using TorchSharp;
using static TorchSharp.torch;

namespace Superalign.Objectives.Conformity;

/// <summary>
/// Shared pieces of the conformity objectives: argument validation, input checks, the numerically stable building
/// blocks (<c>logσ</c>-based cDPO, <c>log(1 − eˣ)</c>) and the hand-over of results out of the objective's dispose scope.
/// </summary>
internal static class ConformityMath
{
    internal const double Ln2 = 0.69314718055994530942;

    /// <summary>Largest length-averaged log-prob ORPO's log odds accept; above it <c>log(1 − eˡ)</c> is clamped.</summary>
    internal const double MaxMeanLogProb = -1e-6;

    // ---- argument validation (ArgumentOutOfRangeException naming the parameter and the allowed range) ----

    internal static double Positive(double value, string name) =>
        double.IsFinite(value) && value > 0 ? value : throw OutOfRange(name, value, "finite and > 0");

    internal static double NonNegative(double value, string name) =>
        double.IsFinite(value) && value >= 0 ? value : throw OutOfRange(name, value, "finite and >= 0");

    /// <summary>Label smoothing of the cDPO-style losses: the assumed fraction of flipped pairs, in [0, 0.5].</summary>
    internal static double LabelSmoothing(double value, string name) =>
        value is >= 0 and <= 0.5 ? value : throw OutOfRange(name, value, "[0, 0.5]");

    internal static ArgumentOutOfRangeException OutOfRange(string name, double value, string range) =>
        new(name, value, $"{name} must be {range}; got {value.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}.");

    // ---- inputs ----

    /// <summary>Checks that the log-probs are non-empty <c>[B]</c> tensors of one shape (a <c>[B, 1]</c> would broadcast silently).</summary>
    internal static void CheckShapes(PreferenceLogProbs logps)
    {
        ArgumentNullException.ThrowIfNull(logps);
        var pc = logps.PolicyChosen ?? throw new ArgumentException("PolicyChosen is null.", nameof(logps));
        if (pc.dim() != 1 || pc.shape[0] == 0)
            throw new ArgumentException($"PolicyChosen must be a non-empty [B] tensor; got shape [{string.Join(", ", pc.shape)}].", nameof(logps));
        Same(pc, logps.PolicyRejected, nameof(PreferenceLogProbs.PolicyRejected));
        Same(pc, logps.ChosenLengths, nameof(PreferenceLogProbs.ChosenLengths));
        Same(pc, logps.RejectedLengths, nameof(PreferenceLogProbs.RejectedLengths));
        if (logps.ReferenceChosen is { } rc) Same(pc, rc, nameof(PreferenceLogProbs.ReferenceChosen));
        if (logps.ReferenceRejected is { } rr) Same(pc, rr, nameof(PreferenceLogProbs.ReferenceRejected));

        static void Same(Tensor pc, Tensor? other, string what)
        {
            if (other is null) throw new ArgumentException($"{what} is null.", nameof(logps));
            if (other.dim() != 1 || other.shape[0] != pc.shape[0])
                throw new ArgumentException($"{what} must have shape [{pc.shape[0]}] like PolicyChosen; got [{string.Join(", ", other.shape)}].", nameof(logps));
        }
    }

    /// <summary>
    /// The implicit log-ratios <c>cl = πc − rc</c> and <c>rl = πr − rr</c> (before β). Throws
    /// <see cref="InvalidOperationException"/> when the reference log-probs are missing.
    /// </summary>
    internal static (Tensor Chosen, Tensor Rejected) LogRatios(PreferenceLogProbs logps)
    {
        CheckShapes(logps);
        var rc = logps.RequireReferenceChosen();
        var rr = logps.RequireReferenceRejected();
        return (logps.PolicyChosen - rc, logps.PolicyRejected - rr);
    }

    /// <summary>Response lengths in the dtype of <paramref name="like"/> (lengths may arrive as integers).</summary>
    internal static Tensor Lengths(Tensor lengths, Tensor like) =>
        lengths.dtype == like.dtype ? lengths : lengths.to_type(like.dtype);

    // ---- numerics ----

    /// <summary>
    /// The conservative (cDPO) logistic loss per pair: <c>−(1−ε)·logσ(z) − ε·logσ(−z)</c>; plain <c>−logσ(z)</c> at ε = 0.
    /// </summary>
    internal static Tensor ConservativeLogistic(Tensor z, double labelSmoothing)
    {
        var loss = -nn.functional.logsigmoid(z);
        if (labelSmoothing == 0) return loss;
        return (1 - labelSmoothing) * loss - labelSmoothing * nn.functional.logsigmoid(-z);
    }

    /// <summary>
    /// <c>log(1 − eˣ)</c> for x &lt; 0 without cancellation (Mächler's log1mexp): <c>log(−expm1(x))</c> for
    /// x &gt; −ln 2, <c>log1p(−eˣ)</c> otherwise. Each branch sees its input clamped to its own domain, so the branch
    /// that <c>where</c> discards produces neither infinities nor NaN gradients. Inputs must be &lt; 0 (clamp first).
    /// </summary>
    internal static Tensor Log1mExp(Tensor x)
    {
        var nearZero = x > -Ln2;
        var a = x.clamp_min(-Ln2).expm1().neg().log();
        var b = x.clamp_max(-Ln2).exp().neg().log1p();
        return where(nearZero, a, b);
    }

    // ---- results ----

    /// <summary>
    /// Detaches the rewards and moves loss and rewards out of the objective's scope; every other tensor the objective
    /// created is disposed with <paramref name="scope"/> (autograd keeps what the backward pass needs).
    /// </summary>
    internal static ConformityOutput Result(DisposeScope scope, Tensor loss, Tensor chosenRewards, Tensor rejectedRewards)
    {
        var (l, c, r) = scope.MoveToOuter(loss, chosenRewards.detach(), rejectedRewards.detach());
        return new ConformityOutput(l, c, r);
    }
}
