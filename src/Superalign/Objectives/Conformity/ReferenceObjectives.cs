using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Superalign.Objectives.Conformity;

/// <summary>
/// Base of the DPO family: losses of the implicit rewards <c>cl = πc − rc</c> and <c>rl = πr − rr</c> (policy minus
/// reference sequence log-probs). Rewards reported for the metrics are <c>β·cl</c> and <c>β·rl</c>, as in TRL.
/// </summary>
public abstract class ReferenceObjective : IConformityObjective
{
    /// <summary>Creates the objective.</summary>
    /// <param name="beta">Inverse temperature β; finite and &gt; 0.</param>
    protected ReferenceObjective(double beta)
    {
        Beta = Check.Positive(beta, nameof(beta));
    }

    /// <summary>Inverse temperature β.</summary>
    public double Beta { get; }

    /// <inheritdoc />
    public abstract string Name { get; }

    /// <inheritdoc />
    public bool RequiresReference => true;

    /// <inheritdoc />
    public ConformityLoss Compute(PreferenceLogProbs logps)
    {
        ArgumentNullException.ThrowIfNull(logps);
        var cl = logps.PolicyChosen - logps.RequireReferenceChosen();
        var rl = logps.PolicyRejected - logps.RequireReferenceRejected();
        Check.SameShape(cl, rl);
        return new ConformityLoss(Loss(cl, rl, logps), (Beta * cl).detach(), (Beta * rl).detach());
    }

    /// <summary>The scalar loss (mean over pairs) from the log-ratios <c>cl</c>, <c>rl</c> (each <c>[B]</c>).</summary>
    protected abstract Tensor Loss(Tensor cl, Tensor rl, PreferenceLogProbs logps);

    /// <summary>Conservative-DPO loss on logits <paramref name="z"/>: <c>−(1−ε)·logσ(z) − ε·logσ(−z)</c> per pair.</summary>
    internal static Tensor Cdpo(Tensor z, double epsilon) =>
        epsilon == 0 ? -F.logsigmoid(z) : -(1 - epsilon) * F.logsigmoid(z) - epsilon * F.logsigmoid(-z);
}

/// <summary>
/// DPO (Rafailov et al. 2023), TRL <c>sigmoid</c>: <c>−logσ(β·h)</c>, h = cl − rl. With label smoothing ε > 0 it is
/// conservative DPO (cDPO): <c>−(1−ε)·logσ(βh) − ε·logσ(−βh)</c>, ε the assumed fraction of flipped pairs.
/// </summary>
public sealed class SigmoidDpo : ReferenceObjective
{
    /// <summary>Creates DPO.</summary>
    /// <param name="beta">β &gt; 0 (TRL default 0.1).</param>
    /// <param name="labelSmoothing">ε in [0, 0.5].</param>
    public SigmoidDpo(double beta = 0.1, double labelSmoothing = 0) : base(beta)
    {
        LabelSmoothing = Check.InRange(labelSmoothing, 0, 0.5, nameof(labelSmoothing), "[0, 0.5]");
    }

    /// <summary>Label smoothing ε.</summary>
    public double LabelSmoothing { get; }

    /// <inheritdoc />
    public override string Name => "sigmoid";

    /// <inheritdoc />
    protected override Tensor Loss(Tensor cl, Tensor rl, PreferenceLogProbs logps) => Cdpo(Beta * (cl - rl), LabelSmoothing).mean();
}

/// <summary>SLiC hinge loss, TRL <c>hinge</c>: <c>relu(1 − β·h)</c>.</summary>
public sealed class HingeLoss(double beta = 0.1) : ReferenceObjective(beta)
{
    /// <inheritdoc />
    public override string Name => "hinge";

    /// <inheritdoc />
    protected override Tensor Loss(Tensor cl, Tensor rl, PreferenceLogProbs logps) => F.relu(1 - Beta * (cl - rl)).mean();
}

/// <summary>
/// IPO (Azar et al. 2023), TRL <c>ipo</c>, in TRL's current per-token form:
/// <c>(cl/|yc| − rl/|yr| − 1/(2β))²</c> — the log-ratios are averaged over the response tokens, so the target margin
/// 1/(2β) does not depend on response length. (For a classifier, |y| = 1 and this is the paper's summed form.)
/// </summary>
public sealed class Ipo(double beta = 0.1) : ReferenceObjective(beta)
{
    /// <inheritdoc />
    public override string Name => "ipo";

    /// <inheritdoc />
    protected override Tensor Loss(Tensor cl, Tensor rl, PreferenceLogProbs logps)
    {
        var h = cl / logps.ChosenLengths - rl / logps.RejectedLengths;
        return (h - 1 / (2 * Beta)).square().mean();
    }
}

/// <summary>
/// Robust DPO (Chowdhury et al. 2024), TRL <c>robust</c>: <c>[−(1−ε)·logσ(βh) + ε·logσ(−βh)] / (1 − 2ε)</c>, an
/// unbiased loss under preference-label noise of rate ε. Equals DPO at ε = 0.
/// </summary>
public sealed class RobustDpo : ReferenceObjective
{
    /// <summary>Creates robust DPO.</summary>
    /// <param name="beta">β &gt; 0.</param>
    /// <param name="labelSmoothing">Noise rate ε in [0, 0.5).</param>
    public RobustDpo(double beta = 0.1, double labelSmoothing = 0) : base(beta)
    {
        LabelSmoothing = Check.InRange(labelSmoothing, 0, 0.5, nameof(labelSmoothing), "[0, 0.5)", upperOpen: true);
    }

    /// <summary>Noise rate ε.</summary>
    public double LabelSmoothing { get; }

    /// <inheritdoc />
    public override string Name => "robust";

    /// <inheritdoc />
    protected override Tensor Loss(Tensor cl, Tensor rl, PreferenceLogProbs logps)
    {
        var z = Beta * (cl - rl);
        double e = LabelSmoothing;
        return ((-(1 - e) * F.logsigmoid(z) + e * F.logsigmoid(-z)) / (1 - 2 * e)).mean();
    }
}

/// <summary>
/// EXO (Ji et al. 2024), TRL <c>exo_pair</c>: the reverse KL between the model's pair distribution
/// <c>σ(±βh)</c> and the smoothed label <c>(1−ε, ε)</c>:
/// <c>σ(βh)(logσ(βh) − log(1−ε)) + σ(−βh)(logσ(−βh) − log ε)</c>. ε must be &gt; 0 (paper: 1e-3).
/// </summary>
public sealed class ExoPair : ReferenceObjective
{
    /// <summary>Creates EXO.</summary>
    /// <param name="beta">β &gt; 0.</param>
    /// <param name="labelSmoothing">ε in (0, 1); 0 selects the paper's 1e-3.</param>
    public ExoPair(double beta = 0.1, double labelSmoothing = 1e-3) : base(beta)
    {
        if (labelSmoothing == 0) labelSmoothing = 1e-3;
        LabelSmoothing = Check.InRange(labelSmoothing, 0, 1, nameof(labelSmoothing), "(0, 1)", lowerOpen: true, upperOpen: true);
    }

    /// <summary>Label smoothing ε.</summary>
    public double LabelSmoothing { get; }

    /// <inheritdoc />
    public override string Name => "exo_pair";

    /// <inheritdoc />
    protected override Tensor Loss(Tensor cl, Tensor rl, PreferenceLogProbs logps)
    {
        var z = Beta * (cl - rl);
        double e = LabelSmoothing;
        return (z.sigmoid() * (F.logsigmoid(z) - Math.Log(1 - e)) + (-z).sigmoid() * (F.logsigmoid(-z) - Math.Log(e))).mean();
    }
}

/// <summary>NCA (Chen et al. 2024), TRL <c>nca_pair</c>: <c>−logσ(β·cl) − ½logσ(−β·cl) − ½logσ(−β·rl)</c>.</summary>
public sealed class NcaPair(double beta = 0.1) : ReferenceObjective(beta)
{
    /// <inheritdoc />
    public override string Name => "nca_pair";

    /// <inheritdoc />
    protected override Tensor Loss(Tensor cl, Tensor rl, PreferenceLogProbs logps) =>
        (-F.logsigmoid(Beta * cl) - 0.5 * F.logsigmoid(-Beta * cl) - 0.5 * F.logsigmoid(-Beta * rl)).mean();
}

/// <summary>Binary classifier optimisation on pairs, TRL <c>bco_pair</c> (without TRL's running reward shift): <c>−logσ(β·cl) − logσ(−β·rl)</c>.</summary>
public sealed class BcoPair(double beta = 0.1) : ReferenceObjective(beta)
{
    /// <inheritdoc />
    public override string Name => "bco_pair";

    /// <inheritdoc />
    protected override Tensor Loss(Tensor cl, Tensor rl, PreferenceLogProbs logps) =>
        (-F.logsigmoid(Beta * cl) - F.logsigmoid(-Beta * rl)).mean();
}

/// <summary>SPPO with hard labels, TRL <c>sppo_hard</c>: <c>(cl − 1/(2β))² + (rl + 1/(2β))²</c>.</summary>
public sealed class SppoHard(double beta = 0.1) : ReferenceObjective(beta)
{
    /// <inheritdoc />
    public override string Name => "sppo_hard";

    /// <inheritdoc />
    protected override Tensor Loss(Tensor cl, Tensor rl, PreferenceLogProbs logps)
    {
        double target = 1 / (2 * Beta);
        return ((cl - target).square() + (rl + target).square()).mean();
    }
}

/// <summary>
/// Alignment via optimal transport (Melnyk et al. 2024), TRL <c>aot</c> (paired): the policy margins <c>πc − πr</c>
/// and the reference margins <c>rc − rr</c> are each sorted over the batch, and the cDPO loss is applied to β times
/// their difference — first-order stochastic dominance of the policy's margin distribution. Couples the batch.
/// </summary>
public sealed class Aot : ReferenceObjective
{
    /// <summary>Creates AOT.</summary>
    /// <param name="beta">β &gt; 0.</param>
    /// <param name="labelSmoothing">ε in [0, 0.5].</param>
    public Aot(double beta = 0.1, double labelSmoothing = 0) : base(beta)
    {
        LabelSmoothing = Check.InRange(labelSmoothing, 0, 0.5, nameof(labelSmoothing), "[0, 0.5]");
    }

    /// <summary>Label smoothing ε.</summary>
    public double LabelSmoothing { get; }

    /// <inheritdoc />
    public override string Name => "aot";

    /// <inheritdoc />
    protected override Tensor Loss(Tensor cl, Tensor rl, PreferenceLogProbs logps)
    {
        var policy = sort(logps.PolicyChosen - logps.PolicyRejected, 0).values;
        var reference = sort(logps.RequireReferenceChosen() - logps.RequireReferenceRejected(), 0).values;
        return Cdpo(Beta * (policy - reference), LabelSmoothing).mean();
    }
}

/// <summary>
/// AOT for unpaired data, TRL <c>aot_unpaired</c>: the chosen log-ratios <c>cl</c> and the rejected log-ratios
/// <c>rl</c> are each sorted over the batch, and the cDPO loss is applied to β times their difference.
/// </summary>
public sealed class AotUnpaired : ReferenceObjective
{
    /// <summary>Creates unpaired AOT.</summary>
    /// <param name="beta">β &gt; 0.</param>
    /// <param name="labelSmoothing">ε in [0, 0.5].</param>
    public AotUnpaired(double beta = 0.1, double labelSmoothing = 0) : base(beta)
    {
        LabelSmoothing = Check.InRange(labelSmoothing, 0, 0.5, nameof(labelSmoothing), "[0, 0.5]");
    }

    /// <summary>Label smoothing ε.</summary>
    public double LabelSmoothing { get; }

    /// <inheritdoc />
    public override string Name => "aot_unpaired";

    /// <inheritdoc />
    protected override Tensor Loss(Tensor cl, Tensor rl, PreferenceLogProbs logps) =>
        Cdpo(Beta * (sort(cl, 0).values - sort(rl, 0).values), LabelSmoothing).mean();
}

/// <summary>Anchored preference optimisation, TRL <c>apo_zero</c> (D'Oosterlinck et al. 2024): <c>1 − σ(β·cl) + σ(β·rl)</c> — raises chosen and lowers rejected likelihoods.</summary>
public sealed class ApoZero(double beta = 0.1) : ReferenceObjective(beta)
{
    /// <inheritdoc />
    public override string Name => "apo_zero";

    /// <inheritdoc />
    protected override Tensor Loss(Tensor cl, Tensor rl, PreferenceLogProbs logps) =>
        (1 - (Beta * cl).sigmoid() + (Beta * rl).sigmoid()).mean();
}

/// <summary>Anchored preference optimisation, TRL <c>apo_down</c>: <c>σ(β·cl) + 1 − σ(β·h)</c> — lowers both, the rejected more.</summary>
public sealed class ApoDown(double beta = 0.1) : ReferenceObjective(beta)
{
    /// <inheritdoc />
    public override string Name => "apo_down";

    /// <inheritdoc />
    protected override Tensor Loss(Tensor cl, Tensor rl, PreferenceLogProbs logps) =>
        ((Beta * cl).sigmoid() + 1 - (Beta * (cl - rl)).sigmoid()).mean();
}

/// <summary>
/// DiscoPOP (Chris Lu et al. 2024), TRL <c>discopop</c>: with z = βh and m = σ(z/τ),
/// <c>−logσ(z)·(1 − m) + e^(−z)·m</c>. The exponential is evaluated at <c>max(z, −50)</c>: below that m underflows to 0
/// and the clamp only stops <c>0·∞</c> from producing NaN.
/// </summary>
public sealed class DiscoPop : ReferenceObjective
{
    /// <summary>Creates DiscoPOP.</summary>
    /// <param name="beta">β &gt; 0.</param>
    /// <param name="tau">Temperature τ &gt; 0 of the modulation (paper: 0.05).</param>
    public DiscoPop(double beta = 0.1, double tau = 0.05) : base(beta)
    {
        Tau = Check.Positive(tau, nameof(tau));
    }

    /// <summary>Modulation temperature τ.</summary>
    public double Tau { get; }

    /// <inheritdoc />
    public override string Name => "discopop";

    /// <inheritdoc />
    protected override Tensor Loss(Tensor cl, Tensor rl, PreferenceLogProbs logps)
    {
        var z = Beta * (cl - rl);
        var m = (z / Tau).sigmoid();
        return (-F.logsigmoid(z) * (1 - m) + (-z.clamp_min(-50)).exp() * m).mean();
    }
}
