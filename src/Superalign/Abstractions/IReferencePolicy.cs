using static TorchSharp.torch;

namespace Superalign;

/// <summary>
/// The reference policy of DPO-family objectives: gives the reference log-probabilities of a preference batch.
/// </summary>
public interface IReferencePolicy : IDisposable
{
    /// <summary>Reference log-probs of the chosen and rejected responses, each <c>[B]</c>, without gradient.</summary>
    (Tensor Chosen, Tensor Rejected) LogProbs(PreferenceBatch batch);

    /// <summary>
    /// Called by the optimizer after each parameter update, with the number of updates done so far; a reference
    /// that follows the policy (TR-DPO) syncs here.
    /// </summary>
    void AfterUpdate(IStudent policy, long updates);

    /// <summary>Whether cached reference log-probs in the data stay valid (false for a reference that changes).</summary>
    bool IsStatic { get; }
}
