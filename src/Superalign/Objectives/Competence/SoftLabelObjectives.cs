using static TorchSharp.torch;

namespace Superalign.Objectives.Competence;

/// <summary>
/// <c>xent</c>: cross-entropy to the supervisor's soft labels, <c>−Σ_c y_c log p_c</c>, averaged over scored
/// positions (the weak-to-strong baseline of Burns et al. 2023). Needs <see cref="CompetenceInput.SoftTargets"/>.
/// </summary>
public sealed class SoftCrossEntropyObjective : ICompetenceObjective
{
    /// <inheritdoc />
    public string Name => "xent";

    /// <inheritdoc />
    public bool RequiresSoftTargets => true;

    /// <inheritdoc />
    public Tensor Loss(CompetenceInput input)
    {
        var x = CompetenceTensors.Prepare(input, Name, needsSoftTargets: true);
        return CompetenceTensors.MaskedMean(CompetenceTensors.SoftCrossEntropy(x.SoftTargets!, x.LogProbs), x.Mask);
    }
}

/// <summary>
/// <c>kl</c>: <c>KL(y ‖ p) = Σ_c y_c (log y_c − log p_c)</c> (with <c>0 log 0 = 0</c>), averaged over scored
/// positions. Same gradient as <c>xent</c>; the value is <c>xent − H(y)</c>, so it reaches 0 when the student matches
/// the supervisor.
/// </summary>
public sealed class KlObjective : ICompetenceObjective
{
    /// <inheritdoc />
    public string Name => "kl";

    /// <inheritdoc />
    public bool RequiresSoftTargets => true;

    /// <inheritdoc />
    public Tensor Loss(CompetenceInput input)
    {
        var x = CompetenceTensors.Prepare(input, Name, needsSoftTargets: true);
        var y = x.SoftTargets!;
        var perPosition = (y.xlogy(y) - y * x.LogProbs).sum(-1);
        return CompetenceTensors.MaskedMean(perPosition, x.Mask);
    }
}

/// <summary>
/// <c>product</c>: cross-entropy to the product target <c>t ∝ p^β ⊙ y^α</c>, row-normalised and detached; computed
/// in log space as <c>t = softmax(β·log p + α·log y)</c>. Defaults α = 1, β = 1 (student and supervisor weighted
/// equally). α = 1, β = 0 reduces to <c>xent</c>; α = 0 self-distils from the student's (sharpened by β) predictions.
/// </summary>
/// <remarks>
/// Because the target is detached, the gradient with respect to the logits is <c>(p − t)·mask / Σmask</c>.
/// A row whose soft labels are all zero (e.g. padding at a masked position) gets a zero target.
/// </remarks>
public sealed class ProductObjective : ICompetenceObjective
{
    /// <summary>Creates the objective.</summary>
    /// <param name="alpha">Exponent α on the supervisor's labels, finite and ≥ 0.</param>
    /// <param name="beta">Exponent β on the student's own predictions, finite and ≥ 0.</param>
    public ProductObjective(double alpha = 1, double beta = 1)
    {
        Alpha = CompetenceTensors.CheckRange(alpha, nameof(alpha), 0, double.PositiveInfinity, maxInclusive: false);
        Beta = CompetenceTensors.CheckRange(beta, nameof(beta), 0, double.PositiveInfinity, maxInclusive: false);
    }

    /// <summary>Exponent α on the supervisor's soft labels.</summary>
    public double Alpha { get; }

    /// <summary>Exponent β on the student's predictions.</summary>
    public double Beta { get; }

    /// <inheritdoc />
    public string Name => "product";

    /// <inheritdoc />
    public bool RequiresSoftTargets => true;

    /// <inheritdoc />
    public Tensor Loss(CompetenceInput input)
    {
        var x = CompetenceTensors.Prepare(input, Name, needsSoftTargets: true);
        var logTarget = x.LogProbs.detach() * Beta;
        // Skip the α term when α = 0: 0 · log 0 would be NaN where a label is exactly 0.
        if (Alpha != 0) logTarget = logTarget + x.SoftTargets!.log() * Alpha;
        var target = logTarget.softmax(-1).nan_to_num(0.0);
        return CompetenceTensors.MaskedMean(CompetenceTensors.SoftCrossEntropy(target, x.LogProbs), x.Mask);
    }
}

/// <summary>
/// <c>entropy</c>: cross-entropy to the mixed target <c>(1 − α)·y + α·p</c>, where the student's own <c>p</c> is
/// <b>not</b> detached. Per position the loss is exactly <c>(1 − α)·xent(y, p) + α·H(p)</c>, with
/// <c>H(p) = −Σ_c p_c log p_c</c>: cross-entropy to the weak labels plus entropy minimisation, which rewards a
/// confident student (a smooth relative of <c>logconf</c>). Default α = 0.5.
/// </summary>
/// <remarks>
/// Detaching <c>p</c> would keep the value but remove the regulariser from the gradient: the gradient of
/// <c>−Σ_c p̄_c log p_c</c> with respect to the logits is <c>p − p̄ = 0</c>, leaving <c>(1 − α)·xent</c>.
/// </remarks>
public sealed class EntropyObjective : ICompetenceObjective
{
    /// <summary>Creates the objective.</summary>
    /// <param name="alpha">Weight α in [0, 1] of the entropy term (0 = <c>xent</c>).</param>
    public EntropyObjective(double alpha = 0.5) =>
        Alpha = CompetenceTensors.CheckRange(alpha, nameof(alpha), 0, 1);

    /// <summary>Weight α of the entropy term.</summary>
    public double Alpha { get; }

    /// <inheritdoc />
    public string Name => "entropy";

    /// <inheritdoc />
    public bool RequiresSoftTargets => true;

    /// <inheritdoc />
    public Tensor Loss(CompetenceInput input)
    {
        var x = CompetenceTensors.Prepare(input, Name, needsSoftTargets: true);
        var target = x.SoftTargets! * (1 - Alpha) + x.LogProbs.exp() * Alpha;
        return CompetenceTensors.MaskedMean(CompetenceTensors.SoftCrossEntropy(target, x.LogProbs), x.Mask);
    }
}
