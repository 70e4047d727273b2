using static TorchSharp.torch;

namespace Superalign;

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
