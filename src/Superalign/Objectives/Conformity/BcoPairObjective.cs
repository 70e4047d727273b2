using static Superalign.Objectives.Conformity.ConformityMath;
using static TorchSharp.torch;

namespace Superalign.Objectives.Conformity;

/// <summary>
/// BCO for pairs (Jung et al. 2024), TRL's <c>bco_pair</c>: a binary classifier that calls chosen responses good and
/// rejected ones bad, <c>−logσ(β·cl) − logσ(−β·rl)</c>, averaged over the pairs. At policy = reference the loss is
/// <c>2 ln 2</c>.
/// </summary>
/// <remarks>
/// TRL shifts both logits by δ, a running mean of the rewards across steps. Objectives here are stateless (a step must
/// give the same loss whatever ran before), so δ = 0. Rewards: <c>β·cl</c> and <c>β·rl</c>, detached.
/// </remarks>
public sealed class BcoPairObjective : IConformityObjective
{
    /// <summary>Creates the loss.</summary>
    /// <param name="beta">β, finite and &gt; 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="beta"/> is outside its range.</exception>
    public BcoPairObjective(double beta = 0.1) => Beta = Positive(beta, nameof(beta));

    /// <summary>β.</summary>
    public double Beta { get; }

    /// <inheritdoc/>
    public string Name => "bco_pair";

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
        var perPair = -nn.functional.logsigmoid(c) - nn.functional.logsigmoid(-r);
        return Result(scope, perPair.mean(), c, r);
    }
}
