using static TorchSharp.torch;

namespace Superalign;

/// <summary>
/// A source of supervision, possibly weaker than the student it supervises: ground truth, a weak model, a noisy
/// labeler, an ensemble, the student itself or a peer (AI feedback), or a judge of a debate.
/// </summary>
public interface ISupervisor
{
    /// <summary>Human-readable name, used in reports.</summary>
    string Name { get; }
}

/// <summary>A supervisor that labels inputs for competence training.</summary>
public interface ILabelSupervisor : ISupervisor
{
    /// <summary>Soft labels: class probabilities <c>[B, C]</c> for features <c>[B, F]</c> (rows sum to 1).</summary>
    Tensor Label(Tensor features);
}

/// <summary>A supervisor that judges which of two responses is better, for conformity training.</summary>
public interface IPreferenceSupervisor : ISupervisor
{
    /// <summary>
    /// Probability <c>[B]</c> that each response of <paramref name="first"/> is preferred over the response of
    /// <paramref name="second"/> to the same input (0.5 = no preference).
    /// </summary>
    Tensor Prefer(ResponseBatch first, ResponseBatch second);
}
