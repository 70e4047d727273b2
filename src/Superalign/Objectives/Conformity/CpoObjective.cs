using static Superalign.Objectives.Conformity.ConformityMath;
using static TorchSharp.torch;

namespace Superalign.Objectives.Conformity;

/// <summary>
/// Contrastive Preference Optimization (Xu et al. 2024), reference-free: a DPO-style preference term on the policy's
/// own summed log-probs plus a behaviour-cloning term on the chosen responses,
/// <c>mean[−logσ(β·(πc − πr))] + α·NLL(chosen)</c>, with <c>NLL(chosen) = mean over pairs of −πc/|yc|</c>.
/// </summary>
/// <remarks>
/// <para>
/// NLL convention: each pair's chosen response contributes its mean per-token negative log-likelihood, and pairs are
/// weighted equally. TRL's CPO trainer instead averages the cross-entropy over all chosen tokens of the batch (longer
/// responses weigh more); the two agree when all chosen responses have the same length (and for classifiers, where
/// every length is 1). With label smoothing ε the preference term takes TRL's conservative form
/// <c>−(1−ε)·logσ(x) − ε·logσ(−x)</c>.
/// </para>
/// <para>Rewards (TRL's CPO convention): <c>β·πc</c> and <c>β·πr</c> on summed log-probs, detached.</para>
/// </remarks>
public sealed class CpoObjective : IConformityObjective
{
    /// <summary>Creates the loss.</summary>
    /// <param name="beta">β, finite and &gt; 0.</param>
    /// <param name="alpha">Weight α of the chosen NLL term (TRL's <c>cpo_alpha</c>), finite and &gt;= 0.</param>
    /// <param name="labelSmoothing">Label smoothing ε of the preference term, in [0, 0.5].</param>
    /// <exception cref="ArgumentOutOfRangeException">A parameter is outside its range.</exception>
    public CpoObjective(double beta = 0.1, double alpha = 1.0, double labelSmoothing = 0)
    {
        Beta = Positive(beta, nameof(beta));
        Alpha = NonNegative(alpha, nameof(alpha));
        LabelSmoothing = ConformityMath.LabelSmoothing(labelSmoothing, nameof(labelSmoothing));
    }

    /// <summary>β.</summary>
    public double Beta { get; }

    /// <summary>α, the weight of the chosen NLL.</summary>
    public double Alpha { get; }

    /// <summary>Label smoothing ε.</summary>
    public double LabelSmoothing { get; }

    /// <inheritdoc/>
    public string Name => "cpo";

    /// <inheritdoc/>
    public bool RequiresReference => false;

    /// <inheritdoc/>
    public ConformityOutput Compute(PreferenceLogProbs logps)
    {
        using var scope = NewDisposeScope();
        CheckShapes(logps);
        var pc = logps.PolicyChosen;
        var pr = logps.PolicyRejected;
        var loss = ConservativeLogistic(Beta * (pc - pr), LabelSmoothing).mean();
        if (Alpha > 0)
            loss = loss + Alpha * (-pc / Lengths(logps.ChosenLengths, pc)).mean();
        return Result(scope, loss, Beta * pc, Beta * pr);
    }
}
