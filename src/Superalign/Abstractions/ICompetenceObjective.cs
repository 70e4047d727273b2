using static TorchSharp.torch;

namespace Superalign;

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
