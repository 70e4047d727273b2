using static TorchSharp.torch;

namespace Superalign;

/// <summary>A supervisor that labels inputs for competence training.</summary>
public interface ILabelSupervisor : ISupervisor
{
    /// <summary>Soft labels: class probabilities <c>[B, C]</c> for features <c>[B, F]</c> (rows sum to 1).</summary>
    Tensor Label(Tensor features);
}
