using static Superalign.Objectives.Conformity.ConformityMath;
using static TorchSharp.torch;

namespace Superalign.Objectives.Conformity;

/// <summary>
/// EXO for pairs (Ji et al. 2024, eq. 16), TRL's <c>exo_pair</c>: the reverse KL between the model's preference
/// distribution <c>σ(±βh)</c> and the ε-smoothed label distribution,
/// <c>σ(βh)·(logσ(βh) − log(1−ε)) + σ(−βh)·(logσ(−βh) − log ε)</c>, averaged over the pairs.
/// </summary>
/// <remarks>Rewards: <c>β·(πc − rc)</c> and <c>β·(πr − rr)</c>, detached.</remarks>
public sealed class ExoPairObjective : IConformityObjective
{
    /// <summary>Creates the loss.</summary>
    /// <param name="beta">β, finite and &gt; 0.</param>
    /// <param name="epsilon">Label smoothing ε of the target distribution, in (0, 1); the paper and TRL use 1e-3.</param>
    /// <exception cref="ArgumentOutOfRangeException">A parameter is outside its range.</exception>
    public ExoPairObjective(double beta = 0.1, double epsilon = 1e-3)
    {
        Beta = Positive(beta, nameof(beta));
        Epsilon = epsilon is > 0 and < 1 ? epsilon : throw OutOfRange(nameof(epsilon), epsilon, "in (0, 1)");
    }

    /// <summary>β.</summary>
    public double Beta { get; }

    /// <summary>ε.</summary>
    public double Epsilon { get; }

    /// <inheritdoc/>
    public string Name => "exo_pair";

    /// <inheritdoc/>
    public bool RequiresReference => true;

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">The reference log-probs are missing.</exception>
    public ConformityOutput Compute(PreferenceLogProbs logps)
    {
        using var scope = NewDisposeScope();
        var (cl, rl) = LogRatios(logps);
        var z = Beta * (cl - rl);
        var logP = nn.functional.logsigmoid(z);
        var logQ = nn.functional.logsigmoid(-z);
        var perPair = z.sigmoid() * (logP - Math.Log(1 - Epsilon)) + (-z).sigmoid() * (logQ - Math.Log(Epsilon));
        return Result(scope, perPair.mean(), Beta * cl, Beta * rl);
    }
}
