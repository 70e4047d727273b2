using static TorchSharp.torch;

namespace Superalign;

/// <summary>
/// What a competence objective sees: the student's logits over the response vocabulary and the supervision.
/// </summary>
/// <param name="Logits">Student logits <c>[B, T, V]</c> (classifier: <c>T = 1</c>, V = classes).</param>
/// <param name="Targets">Hard targets <c>[B, T]</c>.</param>
/// <param name="Mask">Scored positions <c>[B, T]</c> (float 0/1).</param>
/// <param name="SoftTargets">Soft target distributions <c>[B, T, V]</c>, or null.</param>
/// <param name="Progress">Where training stands.</param>
public sealed record CompetenceInput(Tensor Logits, Tensor Targets, Tensor Mask, Tensor? SoftTargets, TrainingProgress Progress);
