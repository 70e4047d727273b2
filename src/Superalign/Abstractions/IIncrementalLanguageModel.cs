using static TorchSharp.torch;

namespace Superalign;

/// <summary>
/// A language model that can decode incrementally: it reads new tokens at given positions, attending to the keys and
/// values of earlier ones held in a <see cref="KeyValueCache"/>, so each generated token costs one position's forward.
/// </summary>
public interface IIncrementalLanguageModel : ILanguageModelStudent
{
    /// <summary>An empty cache sized for this model, <paramref name="batch"/> rows and <paramref name="capacity"/>
    /// positions (at most <see cref="ILanguageModelStudent.MaxSequenceLength"/>).</summary>
    KeyValueCache CreateCache(long batch, long capacity);

    /// <summary>
    /// Next-token logits <c>[B, L, V]</c> for <paramref name="tokens"/> <c>[B, L]</c> at <paramref name="positions"/>
    /// <c>[B, L]</c> (int64; with left padding, the count of real tokens before each one), after the positions already
    /// in <paramref name="cache"/>, which this call extends by <c>L</c>.
    /// </summary>
    /// <param name="tokens">New token ids, int64 <c>[B, L]</c>.</param>
    /// <param name="positions">Position ids, int64 <c>[B, L]</c>.</param>
    /// <param name="attentionMask">Nonzero for real tokens, <c>[B, L]</c>; null when none is padding.</param>
    /// <param name="cache">From <see cref="CreateCache"/>; extended in place.</param>
    Tensor IncrementalLogits(Tensor tokens, Tensor positions, Tensor? attentionMask, KeyValueCache cache);
}
