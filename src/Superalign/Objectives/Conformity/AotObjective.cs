using static Superalign.Objectives.Conformity.ConformityMath;
using static TorchSharp.torch;

namespace Superalign.Objectives.Conformity;

/// <summary>
/// Alignment via Optimal Transport for paired data (Melnyk et al. 2024), TRL's <c>aot</c>: sorts the policy
/// log-ratios <c>πc − πr</c> and the reference log-ratios <c>rc − rr</c> separately over the batch and applies the
/// cDPO loss to <c>β·Δ</c>, <c>Δ = sort(πc − πr) − sort(rc − rr)</c>, averaged over the batch. This enforces
/// first-order stochastic dominance of the policy's margins over the reference's; the loss couples the pairs of the
/// batch, so it depends on the batch composition (use batches of more than a few pairs).
/// </summary>
/// <remarks>Rewards (not sorted): <c>β·(πc − rc)</c> and <c>β·(πr − rr)</c>, detached.</remarks>
public sealed class AotObjective : IConformityObjective
{
    /// <summary>Creates the loss.</summary>
    /// <param name="beta">β, finite and &gt; 0.</param>
    /// <param name="labelSmoothing">cDPO's ε, in [0, 0.5].</param>
    /// <exception cref="ArgumentOutOfRangeException">A parameter is outside its range.</exception>
    public AotObjective(double beta = 0.1, double labelSmoothing = 0)
    {
        Beta = Positive(beta, nameof(beta));
        LabelSmoothing = ConformityMath.LabelSmoothing(labelSmoothing, nameof(labelSmoothing));
    }

    /// <summary>β.</summary>
    public double Beta { get; }

    /// <summary>cDPO's label smoothing ε.</summary>
    public double LabelSmoothing { get; }

    /// <inheritdoc/>
    public string Name => "aot";

    /// <inheritdoc/>
    public bool RequiresReference => true;

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">The reference log-probs are missing.</exception>
    public ConformityOutput Compute(PreferenceLogProbs logps)
    {
        using var scope = NewDisposeScope();
        var (cl, rl) = LogRatios(logps);
        var (policySorted, _) = (logps.PolicyChosen - logps.PolicyRejected).sort(0);
        var (referenceSorted, _) = (logps.ReferenceChosen! - logps.ReferenceRejected!).sort(0);
        var loss = ConservativeLogistic(Beta * (policySorted - referenceSorted), LabelSmoothing).mean();
        return Result(scope, loss, Beta * cl, Beta * rl);
    }
}
