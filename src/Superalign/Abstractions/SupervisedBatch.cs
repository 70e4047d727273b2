using static TorchSharp.torch;

namespace Superalign;

/// <summary>
/// A competence batch: responses with hard targets, and optionally the supervisor's soft labels.
/// </summary>
/// <param name="Responses">Inputs and hard targets (for weak supervision: the supervisor's argmax).</param>
/// <param name="SoftTargets">
/// Optional target distributions: <c>[B, V]</c> for a classifier or <c>[B, T, V]</c> per position; rows sum to 1.
/// Objectives that train on soft labels (<c>xent</c>, <c>product</c>, <c>logconf</c>, …) read them.
/// </param>
public sealed record SupervisedBatch(ResponseBatch Responses, Tensor? SoftTargets = null)
{
    /// <summary>Number of examples.</summary>
    public long Count => Responses.Count;

    /// <summary>The same batch on <paramref name="device"/>.</summary>
    public SupervisedBatch To(Device device)
    {
        var responses = Responses.To(device);
        return ReferenceEquals(responses, Responses) && (SoftTargets is null || SoftTargets.IsOn(device)) ? this : new(responses, SoftTargets?.to(device));
    }

    /// <summary>Checks the soft targets against the responses; throws naming the mismatch.</summary>
    public void Validate()
    {
        if (SoftTargets is null) return;
        long b = Responses.Count;
        bool ok = SoftTargets.dim() switch
        {
            2 => SoftTargets.shape[0] == b && Responses.Targets.shape[1] == 1,
            3 => SoftTargets.shape[0] == b && SoftTargets.shape[1] == Responses.Targets.shape[1],
            _ => false,
        };
        if (!ok)
            throw new ArgumentException(
                $"SoftTargets must have shape [B, V] (single-position responses) or [B, T, V] with B = {b}, T = {Responses.Targets.shape[1]}; got [{string.Join(", ", SoftTargets.shape)}].",
                nameof(SoftTargets));
    }
}
