using static TorchSharp.torch;

namespace Superalign;

/// <summary>
/// A conformity batch: pairs of a preferred (chosen) and a dispreferred (rejected) response to the same input, with
/// optional cached reference log-probabilities.
/// </summary>
/// <param name="Chosen">The preferred responses.</param>
/// <param name="Rejected">The dispreferred responses (same batch size).</param>
/// <param name="ReferenceChosen">Cached reference log-probs of the chosen responses <c>[B]</c>, or null.</param>
/// <param name="ReferenceRejected">Cached reference log-probs of the rejected responses <c>[B]</c>, or null.</param>
/// <remarks>
/// When <c>Chosen.Inputs</c> and <c>Rejected.Inputs</c> are the same tensor object (a classifier scoring two classes
/// of one input), the policy runs one forward pass and reads both responses from it.
/// </remarks>
public sealed record PreferenceBatch(ResponseBatch Chosen, ResponseBatch Rejected, Tensor? ReferenceChosen = null, Tensor? ReferenceRejected = null)
{
    /// <summary>Number of pairs.</summary>
    public long Count => Chosen.Count;

    /// <summary>Whether both reference log-prob tensors are present.</summary>
    public bool HasCachedReference => ReferenceChosen is not null && ReferenceRejected is not null;

    /// <summary>Whether chosen and rejected share one input tensor (one forward pass serves both).</summary>
    public bool SharesInputs => ReferenceEquals(Chosen.Inputs, Rejected.Inputs);

    /// <summary>The same batch on <paramref name="device"/>, keeping shared inputs shared.</summary>
    public PreferenceBatch To(Device device)
    {
        var chosen = Chosen.To(device);
        var rejected = SharesInputs && !ReferenceEquals(chosen, Chosen)
            ? new ResponseBatch(chosen.Inputs, Rejected.Targets.to(device), Rejected.Mask.to(device))
            : Rejected.To(device);
        return new PreferenceBatch(chosen, rejected, ReferenceChosen?.to(device), ReferenceRejected?.to(device));
    }

    /// <summary>Checks that the two sides and the cached reference agree in size; throws naming the mismatch.</summary>
    public void Validate()
    {
        if (Rejected.Count != Chosen.Count)
            throw new ArgumentException($"Rejected has {Rejected.Count} responses but Chosen has {Chosen.Count}.", nameof(Rejected));
        if ((ReferenceChosen is null) != (ReferenceRejected is null))
            throw new ArgumentException("ReferenceChosen and ReferenceRejected must be given together.", ReferenceChosen is null ? nameof(ReferenceChosen) : nameof(ReferenceRejected));
        if (ReferenceChosen is not null && (ReferenceChosen.dim() != 1 || ReferenceChosen.shape[0] != Chosen.Count))
            throw new ArgumentException($"ReferenceChosen must have shape [{Chosen.Count}]; got [{string.Join(", ", ReferenceChosen.shape)}].", nameof(ReferenceChosen));
        if (ReferenceRejected is not null && (ReferenceRejected.dim() != 1 || ReferenceRejected.shape[0] != Chosen.Count))
            throw new ArgumentException($"ReferenceRejected must have shape [{Chosen.Count}]; got [{string.Join(", ", ReferenceRejected.shape)}].", nameof(ReferenceRejected));
    }
}
