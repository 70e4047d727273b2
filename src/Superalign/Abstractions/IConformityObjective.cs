namespace Superalign;

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
    ConformityOutput Compute(PreferenceLogProbs logps);
}
