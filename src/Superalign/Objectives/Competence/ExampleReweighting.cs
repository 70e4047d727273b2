using static TorchSharp.torch;

namespace Superalign.Objectives.Competence;

/// <summary>
/// The per-example weights of one <see cref="LearningToReweight"/> step, detached from the graph.
/// </summary>
/// <param name="MetaGradients">
/// <c>gᵢ = ∂L_trusted(θ'(ε))/∂εᵢ</c> at <c>ε = 0</c>, shape <c>[B]</c>: negative where a step on example <c>i</c>
/// lowers the trusted loss.
/// </param>
/// <param name="Weights">
/// <c>wᵢ = max(−gᵢ, 0) / Σⱼ max(−gⱼ, 0)</c>, shape <c>[B]</c>: non-negative and summing to 1, or all zero when no
/// example helps the trusted set.
/// </param>
public sealed record ExampleReweighting(Tensor MetaGradients, Tensor Weights);
