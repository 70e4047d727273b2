using static TorchSharp.torch;

namespace Superalign.Objectives.Competence;

/// <summary>
/// Per-example weights for any competence objective, carried in the soft labels: the loss becomes the weighted mean
/// <c>Σᵢ wᵢ·ℓᵢ / Σᵢ wᵢ</c> of the inner objective's per-example terms, e.g. to down-weight examples on which the
/// members of an ensemble disagree (<see cref="Supervision.EnsembleSupervisor.LabelWithAgreement"/>).
/// </summary>
/// <remarks>
/// <para><b>How the weights travel.</b> A soft-label row <c>yᵢ</c> (summing to 1) multiplied by a weight
/// <c>wᵢ ≥ 0</c> sums to <c>wᵢ</c> (<see cref="Attach"/>). The training loop passes soft targets through untouched;
/// this decorator reads <c>wᵢ</c> back as the row sum, renormalises the row to <c>yᵢ</c> (a row of weight 0 becomes
/// uniform, which it never trains on) and multiplies the batch's mask by <c>wᵢ</c> before calling the inner
/// objective. Every built-in objective reduces with the masked mean <c>Σ ℓ·mask / Σ mask</c>, which then is exactly
/// the weighted mean; <c>logconf</c> also estimates its class marginals with the weights (its hardening still selects
/// positions by <c>mask &gt; 0</c>). A custom inner objective must likewise use the mask as the weights of a mean.</para>
/// <para><b>Why a decorator rather than a weighted sampler.</b> Drawing examples in proportion to their weight gives
/// the same loss in expectation, but with sampling noise and different batches from the unweighted run; carrying the
/// weights in the labels keeps the batches identical, so a weighted and an unweighted student differ only by the
/// weights, and the loss is exact on every batch. It needs no change to the optimizer or the data classes.</para>
/// <para>Without weights attached (rows summing to 1) the decorator computes what the inner objective computes.</para>
/// </remarks>
public sealed class ExampleWeightedObjective : ICompetenceObjective
{
    /// <summary>Weights the per-example terms of <paramref name="inner"/>.</summary>
    /// <param name="inner">The objective to weight (e.g. <c>xent</c> from <see cref="CompetenceObjectives.Create"/>).</param>
    public ExampleWeightedObjective(ICompetenceObjective inner)
    {
        Inner = inner ?? throw new ArgumentNullException(nameof(inner));
    }

    /// <summary>The weighted objective.</summary>
    public ICompetenceObjective Inner { get; }

    /// <inheritdoc />
    public string Name => $"weighted-{Inner.Name}";

    /// <summary>Always true: the weights are carried in the soft targets.</summary>
    public bool RequiresSoftTargets => true;

    /// <summary>
    /// Soft labels carrying per-example weights: row <c>i</c> of <paramref name="softLabels"/> times
    /// <paramref name="weights"/>[i]. Give the result to the dataset as its soft labels.
    /// </summary>
    /// <param name="softLabels">Soft labels <c>[N, C]</c> whose rows sum to 1.</param>
    /// <param name="weights">Weights <c>[N]</c>, finite and ≥ 0 (e.g. agreement fractions in [0, 1]).</param>
    /// <exception cref="ArgumentException">The shapes disagree, or a weight is negative or not finite.</exception>
    public static Tensor Attach(Tensor softLabels, Tensor weights)
    {
        ArgumentNullException.ThrowIfNull(softLabels);
        ArgumentNullException.ThrowIfNull(weights);
        if (softLabels.dim() != 2 || !softLabels.is_floating_point())
            throw new ArgumentException($"softLabels must be floating [N, C]; got {softLabels.dtype} {CompetenceTensors.Shape(softLabels)}.", nameof(softLabels));
        if (weights.dim() != 1 || weights.shape[0] != softLabels.shape[0])
            throw new ArgumentException($"weights must have shape [{softLabels.shape[0]}]; got {CompetenceTensors.Shape(weights)}.", nameof(weights));
        using var scope = NewDisposeScope();
        var w = weights.to_type(softLabels.dtype).to(softLabels.device);
        if (!w.isfinite().all().item<bool>() || w.lt(0).any().item<bool>())
            throw new ArgumentException("weights must be finite and >= 0.", nameof(weights));
        return (softLabels * w.unsqueeze(1)).MoveToOuterDisposeScope();
    }

    /// <summary>Reads weighted soft labels back: the rows renormalised to sum to 1 (uniform where the weight is 0) and the weights.</summary>
    /// <param name="carried">Soft labels with weights attached, <c>[…, C]</c>.</param>
    /// <returns>The soft labels <c>[…, C]</c> and the weights <c>[…]</c> (the row sums).</returns>
    public static (Tensor SoftLabels, Tensor Weights) Split(Tensor carried)
    {
        ArgumentNullException.ThrowIfNull(carried);
        using var scope = NewDisposeScope();
        var weights = carried.sum(-1);
        long classes = carried.shape[^1];
        var positive = weights.gt(0).unsqueeze(-1);
        var labels = where(positive, carried / weights.clamp_min(1e-30).unsqueeze(-1), full_like(carried, 1.0 / classes));
        return (labels.MoveToOuterDisposeScope(), weights.MoveToOuterDisposeScope());
    }

    /// <summary>The inner objective's loss with the mask multiplied by the weights carried in the soft targets.</summary>
    /// <param name="input">Logits <c>[B, T, V]</c>, targets, mask and soft targets with weights attached.</param>
    /// <exception cref="ArgumentException">The soft targets are missing or misshapen, or carry a negative or non-finite weight.</exception>
    public Tensor Loss(CompetenceInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var soft = input.SoftTargets ?? throw new ArgumentException(
            $"The '{Name}' objective reads per-example weights from the soft targets, but CompetenceInput.SoftTargets is null: attach them with {nameof(ExampleWeightedObjective)}.{nameof(Attach)}.",
            nameof(input));
        if (input.Mask is null || input.Mask.dim() != 2)
            throw new ArgumentException($"{Name}: Mask must have shape [B, T]; got {CompetenceTensors.Shape(input.Mask)}.", nameof(input));
        // Classifier soft targets may come as [B, V] (T = 1): align them with the mask's [B, T].
        if (soft.dim() == 2 && input.Mask.shape[1] == 1) soft = soft.unsqueeze(1);
        if (soft.dim() != 3 || soft.shape[0] != input.Mask.shape[0] || soft.shape[1] != input.Mask.shape[1])
            throw new ArgumentException(
                $"{Name}: SoftTargets must have shape [B, T, V] matching Mask {CompetenceTensors.Shape(input.Mask)}; got {CompetenceTensors.Shape(input.SoftTargets)}.",
                nameof(input));
        var (labels, weights) = Split(soft.detach());
        if (!weights.isfinite().all().item<bool>() || weights.lt(0).any().item<bool>())
            throw new ArgumentException($"{Name}: the weights carried in the soft targets (row sums) must be finite and >= 0.", nameof(input));
        var mask = input.Mask * weights.to_type(input.Mask.dtype);
        return Inner.Loss(input with { SoftTargets = labels, Mask = mask });
    }
}
