using static Superalign.Objectives.Conformity.ConformityMath;
using static TorchSharp.torch;

namespace Superalign.Objectives.Conformity;

/// <summary>
/// Anchored Preference Optimization, zero anchor (D'Oosterlinck et al. 2024, eq. 7), TRL's <c>apo_zero</c>:
/// <c>1 − σ(β·cl) + σ(β·rl)</c>, averaged over the pairs. Raises the chosen likelihood and lowers the rejected one in
/// absolute terms: use it when the chosen responses are better than what the model produces now. At
/// policy = reference the loss is 1.
/// </summary>
/// <remarks>Rewards: <c>β·cl</c> and <c>β·rl</c>, detached.</remarks>
public sealed class ApoZeroObjective : IConformityObjective
{
    /// <summary>Creates the loss.</summary>
    /// <param name="beta">β, finite and &gt; 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="beta"/> is outside its range.</exception>
    public ApoZeroObjective(double beta = 0.1) => Beta = Positive(beta, nameof(beta));

    /// <summary>β.</summary>
    public double Beta { get; }

    /// <inheritdoc/>
    public string Name => "apo_zero";

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
        var perPair = 1 - c.sigmoid() + r.sigmoid();
        return Result(scope, perPair.mean(), c, r);
    }
}
