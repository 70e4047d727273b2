using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Superalign;

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
