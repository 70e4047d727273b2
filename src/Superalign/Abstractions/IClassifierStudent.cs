using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Superalign;

/// <summary>A student that classifies feature vectors: responses are classes.</summary>
public interface IClassifierStudent : IStudent
{
    /// <summary>Number of input features.</summary>
    int InputFeatures { get; }

    /// <summary>Number of classes (the response vocabulary).</summary>
    int Classes { get; }

    /// <summary>Class logits <c>[B, Classes]</c> for features <c>[B, InputFeatures]</c>.</summary>
    Tensor ClassLogits(Tensor features);
}
