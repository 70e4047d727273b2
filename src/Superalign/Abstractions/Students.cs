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

/// <summary>Options for sampling responses from a language model.</summary>
/// <param name="MaxNewTokens">Most tokens to generate after the prompt.</param>
/// <param name="Temperature">Softmax temperature; 0 means greedy decoding.</param>
/// <param name="TopK">Keep only the k most likely tokens (0 = all).</param>
/// <param name="StopToken">Stop a row when it emits this token (it is kept), or -1.</param>
/// <param name="Seed">Seed for sampling, or null to use the global generator.</param>
public sealed record GenerationOptions(int MaxNewTokens = 16, double Temperature = 1.0, int TopK = 0, long StopToken = -1, long? Seed = null);

/// <summary>A causal language model: responses are token sequences continuing a prompt.</summary>
public interface ILanguageModelStudent : IStudent
{
    /// <summary>Vocabulary size.</summary>
    int VocabularySize { get; }

    /// <summary>Longest sequence (prompt + response) the model accepts.</summary>
    int MaxSequenceLength { get; }

    /// <summary>Next-token logits <c>[B, L, V]</c> for tokens <c>[B, L]</c>.</summary>
    Tensor TokenLogits(Tensor tokens);

    /// <summary>
    /// Samples continuations of <paramref name="prompts"/> (<c>[B, P]</c>, all rows of equal length). Returns the
    /// generated tokens <c>[B, N]</c>; positions after a row's stop token hold the stop token again.
    /// </summary>
    Tensor Generate(Tensor prompts, GenerationOptions options);
}
