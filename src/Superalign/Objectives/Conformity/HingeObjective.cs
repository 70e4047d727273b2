using static Superalign.Objectives.Conformity.ConformityMath;
using static TorchSharp.torch;

namespace Superalign.Objectives.Conformity;

/// <summary>
/// SLiC's hinge loss (Zhao et al. 2023), TRL's <c>hinge</c>: <c>relu(1 − β·h)</c> with
/// <c>h = (πc − rc) − (πr − rr)</c>, averaged over the pairs; 1/β acts as the margin.
/// </summary>
/// <remarks>Rewards: <c>β·(πc − rc)</c> and <c>β·(πr − rr)</c>, detached.</remarks>
public sealed class HingeObjective : IConformityObjective
{
    /// <summary>Creates the loss.</summary>
    /// <param name="beta">β, finite and &gt; 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="beta"/> is outside its range.</exception>
    public HingeObjective(double beta = 0.1) => Beta = Positive(beta, nameof(beta));

    /// <summary>β.</summary>
    public double Beta { get; }

    /// <inheritdoc/>
    public string Name => "hinge";

    /// <inheritdoc/>
    public bool RequiresReference => true;

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">The reference log-probs are missing.</exception>
    public ConformityOutput Compute(PreferenceLogProbs logps)
    {
        using var scope = NewDisposeScope();
        var (cl, rl) = LogRatios(logps);
        var loss = (1 - Beta * (cl - rl)).relu().mean();
        return Result(scope, loss, Beta * cl, Beta * rl);
    }
}
