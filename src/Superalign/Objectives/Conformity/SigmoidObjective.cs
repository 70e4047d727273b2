using static Superalign.Objectives.Conformity.ConformityMath;
using static TorchSharp.torch;

namespace Superalign.Objectives.Conformity;

/// <summary>
/// DPO (Rafailov et al. 2023), TRL's <c>sigmoid</c> loss: <c>−logσ(β·h)</c> with the margin
/// <c>h = (πc − rc) − (πr − rr)</c>, averaged over the pairs. With label smoothing ε it is conservative DPO (cDPO):
/// <c>−(1−ε)·logσ(βh) − ε·logσ(−βh)</c>, where ε is the assumed fraction of pairs whose preference is flipped.
/// </summary>
/// <remarks>Rewards: <c>β·(πc − rc)</c> and <c>β·(πr − rr)</c>, detached.</remarks>
public sealed class SigmoidObjective : IConformityObjective
{
    /// <summary>Creates the loss.</summary>
    /// <param name="beta">Inverse temperature β (strength of the implicit KL penalty); finite and &gt; 0.</param>
    /// <param name="labelSmoothing">cDPO's ε, in [0, 0.5]; 0 gives plain DPO.</param>
    /// <exception cref="ArgumentOutOfRangeException">A parameter is outside its range.</exception>
    public SigmoidObjective(double beta = 0.1, double labelSmoothing = 0)
    {
        Beta = Positive(beta, nameof(beta));
        LabelSmoothing = ConformityMath.LabelSmoothing(labelSmoothing, nameof(labelSmoothing));
    }

    /// <summary>β.</summary>
    public double Beta { get; }

    /// <summary>cDPO's label smoothing ε.</summary>
    public double LabelSmoothing { get; }

    /// <inheritdoc/>
    public string Name => "sigmoid";

    /// <inheritdoc/>
    public bool RequiresReference => true;

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">The reference log-probs are missing.</exception>
    public ConformityOutput Compute(PreferenceLogProbs logps)
    {
        using var scope = NewDisposeScope();
        var (cl, rl) = LogRatios(logps);
        var loss = ConservativeLogistic(Beta * (cl - rl), LabelSmoothing).mean();
        return Result(scope, loss, Beta * cl, Beta * rl);
    }
}
