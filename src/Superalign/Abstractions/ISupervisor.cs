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
