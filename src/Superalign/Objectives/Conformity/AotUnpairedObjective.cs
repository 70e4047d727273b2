using static Superalign.Objectives.Conformity.ConformityMath;
using static TorchSharp.torch;

namespace Superalign.Objectives.Conformity;

/// <summary>
/// Alignment via Optimal Transport for unpaired data (Melnyk et al. 2024): sorts the chosen log-ratios
/// <c>cl = πc − rc</c> and the rejected log-ratios <c>rl = πr − rr</c> separately over the batch and applies the cDPO
/// loss to <c>β·Δ</c>, <c>Δ = sort(cl) − sort(rl)</c>, averaged over the batch: the distribution of chosen rewards
/// must dominate that of rejected rewards, whichever rejected response a chosen one was paired with.
/// </summary>
/// <remarks>
/// TRL calls this loss <c>aot_pair</c> (and documents it as the unpaired variant); the name here says what it does, and
/// <see cref="ConformityObjectives.Create"/> accepts <c>aot_pair</c> as an alias. The loss couples the pairs of the
/// batch. Rewards (not sorted): <c>β·cl</c> and <c>β·rl</c>, detached.
/// </remarks>
public sealed class AotUnpairedObjective : IConformityObjective
{
    /// <summary>Creates the loss.</summary>
    /// <param name="beta">β, finite and &gt; 0.</param>
    /// <param name="labelSmoothing">cDPO's ε, in [0, 0.5].</param>
    /// <exception cref="ArgumentOutOfRangeException">A parameter is outside its range.</exception>
    public AotUnpairedObjective(double beta = 0.1, double labelSmoothing = 0)
    {
        Beta = Positive(beta, nameof(beta));
        LabelSmoothing = ConformityMath.LabelSmoothing(labelSmoothing, nameof(labelSmoothing));
    }

    /// <summary>β.</summary>
    public double Beta { get; }

    /// <summary>cDPO's label smoothing ε.</summary>
    public double LabelSmoothing { get; }

    /// <inheritdoc/>
    public string Name => "aot_unpaired";

    /// <inheritdoc/>
    public bool RequiresReference => true;

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">The reference log-probs are missing.</exception>
    public ConformityOutput Compute(PreferenceLogProbs logps)
    {
        using var scope = NewDisposeScope();
        var (cl, rl) = LogRatios(logps);
        var (chosenSorted, _) = cl.sort(0);
        var (rejectedSorted, _) = rl.sort(0);
        var loss = ConservativeLogistic(Beta * (chosenSorted - rejectedSorted), LabelSmoothing).mean();
        return Result(scope, loss, Beta * cl, Beta * rl);
    }
}
