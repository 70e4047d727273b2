using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

/// <summary>What a language-model protocol asks a <see cref="LanguageModelFactory"/> for.</summary>
/// <param name="Seed">The seed of the model's initial weights, derived from the run's seed and the model's role (use it).</param>
/// <param name="Name">A name for reports, e.g. <c>lm-seed0</c>, <c>policy-seed1</c>, <c>peer-seed1</c>.</param>
/// <param name="VocabularySize">Token ids the data use (the protocol's <see cref="Data.CharacterTokenizer"/>, or the tokenizer of the <c>Tokenizer</c> option): the model's vocabulary must have exactly this size.</param>
/// <param name="SequenceLength">Longest sequence (BOS, prompt, response, EOS) the data need: the model's <see cref="ILanguageModelStudent.MaxSequenceLength"/> must be at least this.</param>
/// <param name="Device">The device of the options (<c>Device</c>): where the protocol expects the model.</param>
public sealed record LanguageModelRequest(int Seed, string Name, int VocabularySize, int SequenceLength, Device Device);

/// <summary>
/// Makes a fresh, untrained language-model student for <see cref="CoOptimizationComparison"/> and
/// <see cref="SelfEnhancement"/> (your own architecture in place of the built-in <see cref="Students.TinyCausalLm"/>).
/// The protocol trains and disposes it; <see cref="IStudent.Clone"/> must give an independent copy.
/// </summary>
/// <param name="request">Seed, name, vocabulary and sequence length the data need, and device.</param>
public delegate ILanguageModelStudent LanguageModelFactory(LanguageModelRequest request);

/// <summary>How competence is measured on your own SFT data (the held-out rows of <c>SftData</c>).</summary>
public enum CompletionMetric
{
    /// <summary>
    /// Fraction of held-out prompts whose greedy completion is exactly the file's completion (and then stops): strict,
    /// and 0 for long free-text completions unless the model has learnt them by heart.
    /// </summary>
    ExactMatch,

    /// <summary>
    /// Mean over held-out rows of the geometric-mean probability per token of the file's completion and its EOS under
    /// the model, <c>exp(mean log p)</c>: a graded likelihood in (0, 1], not a measure of what the model would say.
    /// </summary>
    TokenProbability,
}
