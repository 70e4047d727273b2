using static TorchSharp.torch;

namespace Superalign;

/// <summary>A supervisor that judges which of two responses is better, for conformity training.</summary>
public interface IPreferenceSupervisor : ISupervisor
{
    /// <summary>
    /// Probability <c>[B]</c> that each response of <paramref name="first"/> is preferred over the response of
    /// <paramref name="second"/> to the same input (0.5 = no preference).
    /// </summary>
    Tensor Prefer(ResponseBatch first, ResponseBatch second);
}
