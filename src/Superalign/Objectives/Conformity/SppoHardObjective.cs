using static Superalign.Objectives.Conformity.ConformityMath;
using static TorchSharp.torch;

namespace Superalign.Objectives.Conformity;

/// <summary>
/// SPPO with hard preferences (Wu et al. 2024), TRL's <c>sppo_hard</c>: regresses the chosen log-ratio to
/// <c>+1/(2β)</c> and the rejected one to <c>−1/(2β)</c>, <c>(cl − 1/(2β))² + (rl + 1/(2β))²</c>, averaged over the
/// pairs (the winner's win probability set to 1, the loser's to 0). At policy = reference the loss is <c>1/(2β²)</c>.
/// </summary>
/// <remarks>Log-probs are summed over tokens, as in TRL. Rewards: <c>β·cl</c> and <c>β·rl</c>, detached.</remarks>
public sealed class SppoHardObjective : IConformityObjective
{
    /// <summary>Creates the loss.</summary>
    /// <param name="beta">β, finite and &gt; 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="beta"/> is outside its range.</exception>
    public SppoHardObjective(double beta = 0.1) => Beta = Positive(beta, nameof(beta));

    /// <summary>β.</summary>
    public double Beta { get; }

    /// <inheritdoc/>
    public string Name => "sppo_hard";

    /// <inheritdoc/>
    public bool RequiresReference => true;

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">The reference log-probs are missing.</exception>
    public ConformityOutput Compute(PreferenceLogProbs logps)
    {
        using var scope = NewDisposeScope();
        var (cl, rl) = LogRatios(logps);
        double half = 0.5 / Beta;
        var perPair = (cl - half).square() + (rl + half).square();
        return Result(scope, perPair.mean(), Beta * cl, Beta * rl);
    }
}
