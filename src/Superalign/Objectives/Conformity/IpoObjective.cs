using static Superalign.Objectives.Conformity.ConformityMath;
using static TorchSharp.torch;

namespace Superalign.Objectives.Conformity;

/// <summary>
/// IPO (Azar et al. 2023), TRL's <c>ipo</c>, in TRL's per-token-mean form:
/// <c>((πc − rc)/|yc| − (πr − rr)/|yr| − 1/(2β))²</c>, averaged over the pairs.
/// </summary>
/// <remarks>
/// <para>
/// The paper writes the loss on summed log-probs, <c>(h − 1/(2β))²</c>; TRL divides every sequence log-prob (policy and
/// reference) by its response length before the loss, which keeps the regression target 1/(2β) on the scale of one
/// token whatever the response length. This class implements TRL's form, using
/// <see cref="PreferenceLogProbs.ChosenLengths"/> and <see cref="PreferenceLogProbs.RejectedLengths"/>. For a classifier
/// (every length 1) the two forms coincide. At policy = reference the loss is <c>1/(4β²)</c>.
/// </para>
/// <para>
/// Rewards follow TRL too and are per token: <c>β·(πc − rc)/|yc|</c> and <c>β·(πr − rr)/|yr|</c>, detached, so the
/// reward margin is the quantity the loss regresses.
/// </para>
/// </remarks>
public sealed class IpoObjective : IConformityObjective
{
    /// <summary>Creates the loss.</summary>
    /// <param name="beta">β (the paper's τ); the target margin per token is 1/(2β). Finite and &gt; 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="beta"/> is outside its range.</exception>
    public IpoObjective(double beta = 0.1) => Beta = Positive(beta, nameof(beta));

    /// <summary>β.</summary>
    public double Beta { get; }

    /// <inheritdoc/>
    public string Name => "ipo";

    /// <inheritdoc/>
    public bool RequiresReference => true;

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">The reference log-probs are missing.</exception>
    public ConformityOutput Compute(PreferenceLogProbs logps)
    {
        using var scope = NewDisposeScope();
        var (cl, rl) = LogRatios(logps);
        var clTok = cl / Lengths(logps.ChosenLengths, cl);
        var rlTok = rl / Lengths(logps.RejectedLengths, rl);
        var loss = (clTok - rlTok - 1 / (2 * Beta)).square().mean();
        return Result(scope, loss, Beta * clTok, Beta * rlTok);
    }
}
