using static TorchSharp.torch;

namespace Superalign.Objectives.Competence;

/// <summary>
/// Learning to reweight (Ren et al. 2018, "Learning to Reweight Examples for Robust Deep Learning"): per-example
/// weights from a one-step meta-gradient against a small trusted (clean-labelled) set.
/// </summary>
/// <remarks>
/// <para>With weights <c>ε = 0</c> on the training losses <c>ℓᵢ(θ)</c>, a virtual SGD step
/// <c>θ'(ε) = θ − α·∇_θ Σᵢ εᵢ·ℓᵢ(θ)</c> is scored by the trusted loss <c>L_trusted(θ'(ε))</c>. Its derivative at
/// <c>ε = 0</c> is, exactly (the chain rule at <c>θ'(0) = θ</c>, no approximation):
/// <c>gᵢ = −α·∇L_trusted(θ)ᵀ·∇ℓᵢ(θ)</c>. The weights are <c>wᵢ = max(−gᵢ, 0)</c> normalised to sum 1; the real update
/// then minimises <c>Σᵢ wᵢ·ℓᵢ(θ)</c>.</para>
/// <para>Computed as the paper's implementation does, by double backward: one backward pass for the trusted gradient
/// <c>v</c>, one for <c>∇_θ Σ εᵢℓᵢ</c> with a graph, and one for the gradient of <c>vᵀ·∇_θ Σ εᵢℓᵢ</c> with respect to
/// <c>ε</c>, so the cost is about three backward passes whatever the batch size (no per-example loop).</para>
/// <para><b>All weights zero.</b> When no example's gradient has a positive inner product with the trusted gradient
/// the weights are all zero, as in the paper: that step makes no update from the batch (an optimizer with momentum
/// still moves). Uniform weights would instead train on a batch the trusted set says only hurts.</para>
/// </remarks>
public static class LearningToReweight
{
    /// <summary>
    /// The meta-gradients and weights for the per-example losses <paramref name="exampleLosses"/> against
    /// <paramref name="trustedLoss"/>, both functions of <paramref name="parameters"/>. The graph of
    /// <paramref name="exampleLosses"/> is kept, so the caller can back-propagate <c>Σ wᵢ·ℓᵢ</c> afterwards.
    /// </summary>
    /// <param name="parameters">The parameters <c>θ</c> the virtual step moves (those that require gradients).</param>
    /// <param name="exampleLosses">Per-example training losses <c>ℓᵢ(θ)</c>, shape <c>[B]</c>, with a graph to the parameters.</param>
    /// <param name="trustedLoss">The scalar trusted-set loss <c>L_trusted(θ)</c>, with a graph to the parameters.</param>
    /// <param name="virtualStepSize">α of the virtual SGD step, &gt; 0. It scales <see cref="ExampleReweighting.MetaGradients"/> only; the normalised weights do not depend on it.</param>
    /// <exception cref="ArgumentException">Misshapen losses, or no parameter that requires gradients.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="virtualStepSize"/> is not finite and positive.</exception>
    public static ExampleReweighting Compute(IReadOnlyList<Tensor> parameters, Tensor exampleLosses, Tensor trustedLoss, double virtualStepSize = 1)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(exampleLosses);
        ArgumentNullException.ThrowIfNull(trustedLoss);
        if (!(virtualStepSize > 0) || !double.IsFinite(virtualStepSize))
            throw new ArgumentOutOfRangeException(nameof(virtualStepSize), virtualStepSize, $"{nameof(virtualStepSize)} must be finite and > 0.");
        if (exampleLosses.dim() != 1 || !exampleLosses.is_floating_point())
            throw new ArgumentException($"{nameof(exampleLosses)} must be a floating [B] tensor; got {exampleLosses.dtype} {CompetenceTensors.Shape(exampleLosses)}.", nameof(exampleLosses));
        if (trustedLoss.numel() != 1)
            throw new ArgumentException($"{nameof(trustedLoss)} must be a scalar; got {CompetenceTensors.Shape(trustedLoss)}.", nameof(trustedLoss));
        var ps = parameters.Where(p => p.requires_grad).ToList();
        if (ps.Count == 0)
            throw new ArgumentException($"{nameof(parameters)} has no tensor that requires gradients.", nameof(parameters));

        using var scope = NewDisposeScope();
        // v = ∇L_trusted(θ), a constant for the rest.
        var v = autograd.grad([trustedLoss.reshape(-1).sum()], ps, allow_unused: true).Select(g => g?.detach()).ToList();
        // ∂/∂ε of vᵀ·∇_θ(Σ εᵢℓᵢ) at ε = 0 is [vᵀ∇ℓᵢ]ᵢ: double backward through the weighted gradient.
        var eps = zeros_like(exampleLosses).detach().requires_grad_(true);
        var weighted = (eps * exampleLosses).sum();
        var grads = autograd.grad([weighted], ps, retain_graph: true, create_graph: true, allow_unused: true);
        Tensor? dot = null;
        for (int k = 0; k < ps.Count; k++)
        {
            if (grads[k] is null || v[k] is null) continue;
            var term = (grads[k] * v[k]!).sum();
            dot = dot is null ? term : dot + term;
        }
        Tensor alignment = dot is null || !dot.requires_grad
            ? zeros_like(exampleLosses).detach()
            : autograd.grad([dot], [eps], retain_graph: true, allow_unused: true)[0] ?? zeros_like(exampleLosses).detach();
        var meta = (alignment.detach() * -virtualStepSize).MoveToOuterDisposeScope();
        var weights = Normalize(meta).MoveToOuterDisposeScope();
        return new ExampleReweighting(meta, weights);
    }

    /// <summary>
    /// Weights from meta-gradients: <c>wᵢ = max(−gᵢ, 0) / Σⱼ max(−gⱼ, 0)</c>, all zero when no <c>gᵢ</c> is negative.
    /// </summary>
    /// <param name="metaGradients">Meta-gradients <c>g</c>, shape <c>[B]</c>, finite.</param>
    /// <returns>Weights <c>[B]</c>, non-negative, summing to 1 or all zero.</returns>
    /// <exception cref="ArgumentException"><paramref name="metaGradients"/> is not a finite floating vector.</exception>
    public static Tensor Normalize(Tensor metaGradients)
    {
        ArgumentNullException.ThrowIfNull(metaGradients);
        if (metaGradients.dim() != 1 || !metaGradients.is_floating_point())
            throw new ArgumentException($"{nameof(metaGradients)} must be a floating [B] tensor; got {metaGradients.dtype} {CompetenceTensors.Shape(metaGradients)}.", nameof(metaGradients));
        using var scope = NewDisposeScope();
        if (!metaGradients.isfinite().all().item<bool>())
            throw new ArgumentException($"{nameof(metaGradients)} must be finite (a NaN or infinite loss upstream?).", nameof(metaGradients));
        var positive = (-metaGradients.detach()).clamp_min(0);
        var total = positive.sum();
        // The paper's rule: a batch that cannot help the trusted set gets zero weight, not uniform weight.
        var weights = where(total > 0, positive / total.clamp_min(1e-300), zeros_like(positive));
        return weights.MoveToOuterDisposeScope();
    }
}
