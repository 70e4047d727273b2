using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Superalign;

/// <summary>
/// A model being trained. Every student assigns logits over a response vocabulary to the positions of a
/// <see cref="ResponseBatch"/>; from them come the response log-probabilities the conformity objectives need and the
/// distributions the competence objectives need. Implement it (or derive from <see cref="Students.TorchStudent"/>) to
/// plug in your own TorchSharp model.
/// </summary>
public interface IStudent : IDisposable
{
    /// <summary>Human-readable name, used in reports.</summary>
    string Name { get; }

    /// <summary>The device the parameters live on.</summary>
    Device Device { get; }

    /// <summary>Logits <c>[B, T, V]</c> for <paramref name="batch"/>, aligned with <see cref="ResponseBatch.Targets"/>.</summary>
    Tensor Logits(ResponseBatch batch);

    /// <summary>The trainable parameters, in a fixed order.</summary>
    IReadOnlyList<Parameter> Parameters();

    /// <summary>Switches between training and evaluation behaviour (dropout and the like).</summary>
    void SetTraining(bool training);

    /// <summary>Whether the student is in training mode (so code that switches to evaluation can restore it).</summary>
    bool IsTraining { get; }

    /// <summary>A deep copy with its own parameters on the same device (used e.g. as a frozen reference policy).</summary>
    IStudent Clone();

    /// <summary>Writes the parameters to <paramref name="path"/>.</summary>
    void Save(string path);

    /// <summary>Reads parameters written by <see cref="Save"/> into this student (same architecture).</summary>
    void Load(string path);
}
