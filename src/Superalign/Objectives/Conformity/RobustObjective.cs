using static Superalign.Objectives.Conformity.ConformityMath;
using static TorchSharp.torch;

namespace Superalign.Objectives.Conformity;

/// <summary>
/// Robust DPO (Chowdhury et al. 2024), TRL's <c>robust</c>: an unbiased estimate of the DPO loss under preference
/// labels flipped with probability ε, <c>[−(1−ε)·logσ(βh) + ε·logσ(−βh)] / (1 − 2ε)</c>, averaged over the pairs.
/// At ε = 0 it equals <see cref="SigmoidObjective"/>.
/// </summary>
/// <remarks>Rewards: <c>β·(πc − rc)</c> and <c>β·(πr − rr)</c>, detached.</remarks>
public sealed class RobustObjective : IConformityObjective
{
    /// <summary>Creates the loss.</summary>
    /// <param name="beta">β, finite and &gt; 0.</param>
    /// <param name="labelSmoothing">The flip rate ε, in [0, 0.5) (the loss divides by 1 − 2ε).</param>
    /// <exception cref="ArgumentOutOfRangeException">A parameter is outside its range.</exception>
    public RobustObjective(double beta = 0.1, double labelSmoothing = 0)
    {
        Beta = Positive(beta, nameof(beta));
        LabelSmoothing = labelSmoothing is >= 0 and < 0.5 ? labelSmoothing : throw OutOfRange(nameof(labelSmoothing), labelSmoothing, "in [0, 0.5)");
    }

    /// <summary>β.</summary>
    public double Beta { get; }

    /// <summary>The assumed flip rate ε.</summary>
    public double LabelSmoothing { get; }

    /// <inheritdoc/>
    public string Name => "robust";

    /// <inheritdoc/>
    public bool RequiresReference => true;

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">The reference log-probs are missing.</exception>
    public ConformityOutput Compute(PreferenceLogProbs logps)
    {
        using var scope = NewDisposeScope();
        var (cl, rl) = LogRatios(logps);
        var z = Beta * (cl - rl);
        var eps = LabelSmoothing;
        var perPair = -nn.functional.logsigmoid(z) * ((1 - eps) / (1 - 2 * eps));
        if (eps > 0) perPair = perPair + nn.functional.logsigmoid(-z) * (eps / (1 - 2 * eps));
        return Result(scope, perPair.mean(), Beta * cl, Beta * rl);
    }
}
