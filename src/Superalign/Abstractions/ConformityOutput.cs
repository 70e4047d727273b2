using static TorchSharp.torch;

namespace Superalign;

/// <summary>
/// A conformity objective's output: the scalar loss (mean over pairs) and the per-pair implicit rewards used for the
/// TRL metrics (<c>rewards/chosen</c> = mean of <see cref="ChosenRewards"/>, …). Rewards carry no gradient.
/// </summary>
/// <param name="Loss">Scalar loss.</param>
/// <param name="ChosenRewards">Per-pair reward of the chosen response <c>[B]</c> (DPO family: <c>β(πc − rc)</c>).</param>
/// <param name="RejectedRewards">Per-pair reward of the rejected response <c>[B]</c>.</param>
public sealed record ConformityOutput(Tensor Loss, Tensor ChosenRewards, Tensor RejectedRewards);
