using static Superalign.Objectives.Conformity.ConformityMath;
using static TorchSharp.torch;

namespace Superalign.Objectives.Conformity;

/// <summary>
/// SimPO (Meng et al. 2024), reference-free: <c>−logσ(β·(πc/|yc| − πr/|yr|) − γ)</c>, averaged over the pairs; the
/// implicit reward is the length-averaged log-prob, so no reference policy is needed.
/// </summary>
/// <remarks>
/// <para>
/// γ is the absolute target margin, on the scale of the logit <c>β·Δ</c>: this matches the paper and TRL's CPO trainer
/// (<c>loss_type="simpo"</c>, which subtracts <c>simpo_gamma/β</c> from Δ before multiplying by β). The paper's
/// "γ/β ratio" is therefore γ/β here too. With label smoothing ε the loss takes TRL's conservative form
/// <c>−(1−ε)·logσ(x) − ε·logσ(−x)</c> with <c>x = β·Δ − γ</c>. TRL's CPO trainer may add <c>cpo_alpha</c>·NLL to SimPO;
/// compose that with <see cref="WeightedConformityObjective"/> and <see cref="CpoObjective"/> if you want it.
/// </para>
/// <para>
/// Rewards (TRL's convention): <c>β·πc/|yc|</c> and <c>β·πr/|yr|</c>, detached.
/// </para>
/// </remarks>
public sealed class SimpoObjective : IConformityObjective
{
    /// <summary>Creates the loss.</summary>
    /// <param name="beta">β, finite and &gt; 0 (the paper's typical 2.0).</param>
    /// <param name="gamma">Target margin γ, finite and &gt;= 0 (paper's typical 0.5; TRL's <c>simpo_gamma</c>).</param>
    /// <param name="labelSmoothing">Label smoothing ε, in [0, 0.5].</param>
    /// <exception cref="ArgumentOutOfRangeException">A parameter is outside its range.</exception>
    public SimpoObjective(double beta = 2.0, double gamma = 0.5, double labelSmoothing = 0)
    {
        Beta = Positive(beta, nameof(beta));
        Gamma = NonNegative(gamma, nameof(gamma));
        LabelSmoothing = ConformityMath.LabelSmoothing(labelSmoothing, nameof(labelSmoothing));
    }

    /// <summary>β.</summary>
    public double Beta { get; }

    /// <summary>γ, the absolute target margin of <c>β·Δ</c>.</summary>
    public double Gamma { get; }

    /// <summary>Label smoothing ε.</summary>
    public double LabelSmoothing { get; }

    /// <inheritdoc/>
    public string Name => "simpo";

    /// <inheritdoc/>
    public bool RequiresReference => false;

    /// <inheritdoc/>
    public ConformityOutput Compute(PreferenceLogProbs logps)
    {
        using var scope = NewDisposeScope();
        CheckShapes(logps);
        var pc = logps.PolicyChosen / Lengths(logps.ChosenLengths, logps.PolicyChosen);
        var pr = logps.PolicyRejected / Lengths(logps.RejectedLengths, logps.PolicyRejected);
        var loss = ConservativeLogistic(Beta * (pc - pr) - Gamma, LabelSmoothing).mean();
        return Result(scope, loss, Beta * pc, Beta * pr);
    }
}
