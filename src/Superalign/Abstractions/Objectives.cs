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

/// <summary>
/// A task loss (competence): cross-entropy to hard or soft labels, weak-to-strong losses, token NLL.
/// Implement this interface to add a new competence objective.
/// </summary>
public interface ICompetenceObjective
{
    /// <summary>Short name used in reports and logs (e.g. <c>xent</c>).</summary>
    string Name { get; }

    /// <summary>Whether <see cref="CompetenceInput.SoftTargets"/> must be present.</summary>
    bool RequiresSoftTargets { get; }

    /// <summary>The scalar loss, differentiable with respect to <see cref="CompetenceInput.Logits"/>.</summary>
    Tensor Loss(CompetenceInput input);
}

/// <summary>
/// The four sequence log-probabilities a DPO-style objective needs (policy and reference, chosen and rejected), each
/// <c>[B]</c>, and the response lengths in scored positions (at least 1).
/// </summary>
/// <param name="PolicyChosen">Policy log-prob of the chosen responses (carries gradient).</param>
/// <param name="PolicyRejected">Policy log-prob of the rejected responses (carries gradient).</param>
/// <param name="ReferenceChosen">Reference log-prob of the chosen responses (no gradient), or null.</param>
/// <param name="ReferenceRejected">Reference log-prob of the rejected responses (no gradient), or null.</param>
/// <param name="ChosenLengths">Scored positions of the chosen responses <c>[B]</c>.</param>
/// <param name="RejectedLengths">Scored positions of the rejected responses <c>[B]</c>.</param>
public sealed record PreferenceLogProbs(
    Tensor PolicyChosen,
    Tensor PolicyRejected,
    Tensor? ReferenceChosen,
    Tensor? ReferenceRejected,
    Tensor ChosenLengths,
    Tensor RejectedLengths)
{
    /// <summary>Reference log-probs of the chosen responses; throws when the objective needs them and they are missing.</summary>
    public Tensor RequireReferenceChosen() =>
        ReferenceChosen ?? throw new InvalidOperationException("This conformity objective needs reference log-probs (ReferenceChosen is null): give the optimizer a reference policy or cache reference log-probs in the data.");

    /// <summary>Reference log-probs of the rejected responses; throws when the objective needs them and they are missing.</summary>
    public Tensor RequireReferenceRejected() =>
        ReferenceRejected ?? throw new InvalidOperationException("This conformity objective needs reference log-probs (ReferenceRejected is null): give the optimizer a reference policy or cache reference log-probs in the data.");
}

/// <summary>
/// A conformity objective's output: the scalar loss (mean over pairs) and the per-pair implicit rewards used for the
/// TRL metrics (<c>rewards/chosen</c> = mean of <see cref="ChosenRewards"/>, …). Rewards carry no gradient.
/// </summary>
/// <param name="Loss">Scalar loss.</param>
/// <param name="ChosenRewards">Per-pair reward of the chosen response <c>[B]</c> (DPO family: <c>β(πc − rc)</c>).</param>
/// <param name="RejectedRewards">Per-pair reward of the rejected response <c>[B]</c>.</param>
public sealed record ConformityLoss(Tensor Loss, Tensor ChosenRewards, Tensor RejectedRewards);

/// <summary>
/// A value-preference loss (conformity) over pairs of responses: the DPO family against a reference policy, or a
/// reference-free loss. Works for classifiers and language models alike because it sees only sequence log-probs.
/// Implement this interface to add a new conformity objective.
/// </summary>
public interface IConformityObjective
{
    /// <summary>Short name used in reports and logs (TRL's loss-type names, e.g. <c>sigmoid</c>).</summary>
    string Name { get; }

    /// <summary>Whether the reference log-probs must be present.</summary>
    bool RequiresReference { get; }

    /// <summary>The loss and per-pair rewards.</summary>
    ConformityLoss Compute(PreferenceLogProbs logps);
}
