using static Superalign.Objectives.Conformity.ConformityMath;
using static TorchSharp.torch;

namespace Superalign.Objectives.Conformity;

/// <summary>
/// Anchored Preference Optimization, down variant (D'Oosterlinck et al. 2024, eq. 8), TRL's <c>apo_down</c>:
/// <c>σ(β·cl) + 1 − σ(β·(cl − rl))</c>, averaged over the pairs. Lowers the chosen likelihood and the rejected one
/// more: use it when the chosen responses are worse than what the model produces now. At policy = reference the loss
/// is 1.
/// </summary>
/// <remarks>Rewards: <c>β·cl</c> and <c>β·rl</c>, detached.</remarks>
public sealed class ApoDownObjective : IConformityObjective
{
    /// <summary>Creates the loss.</summary>
    /// <param name="beta">β, finite and &gt; 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="beta"/> is outside its range.</exception>
    public ApoDownObjective(double beta = 0.1) => Beta = Positive(beta, nameof(beta));

    /// <summary>β.</summary>
    public double Beta { get; }

    /// <inheritdoc/>
    public string Name => "apo_down";

    /// <inheritdoc/>
    public bool RequiresReference => true;

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">The reference log-probs are missing.</exception>
    public ConformityOutput Compute(PreferenceLogProbs logps)
    {
        using var scope = NewDisposeScope();
        var (cl, rl) = LogRatios(logps);
        var c = Beta * cl;
        var r = Beta * rl;
        var perPair = c.sigmoid() + 1 - (c - r).sigmoid();
        return Result(scope, perPair.mean(), c, r);
    }
}
