namespace Superalign;

/// <summary>Options for sampling responses from a language model.</summary>
/// <remarks>
/// The filters apply in the order of Hugging Face's logits warpers: temperature, then top-k, then top-p. Parameters
/// after <paramref name="Seed"/> were added later, so positional construction with the first five stays valid.
/// </remarks>
/// <param name="MaxNewTokens">Most tokens to generate after the prompt (at least 0).</param>
/// <param name="Temperature">Softmax temperature (finite, at least 0); 0 means greedy decoding.</param>
/// <param name="TopK">Keep only the k most likely tokens (0 = all).</param>
/// <param name="StopToken">Stop a row when it emits this token (it is kept), or -1.</param>
/// <param name="Seed">Seed for sampling, or null to use the global generator.</param>
/// <param name="TopP">Nucleus sampling: keep the smallest set of most likely tokens whose probability reaches this
/// mass (a token is kept when the mass of the tokens more likely than it is below <c>TopP</c>), in (0, 1]; 1 keeps all.</param>
/// <param name="StopTokens">More stop tokens, besides <paramref name="StopToken"/>; a row that emits any of them stops
/// and its later positions repeat the token it emitted. Null or empty for none.</param>
public sealed record GenerationOptions(
    int MaxNewTokens = 16,
    double Temperature = 1.0,
    int TopK = 0,
    long StopToken = -1,
    long? Seed = null,
    double TopP = 1.0,
    IReadOnlyList<long>? StopTokens = null)
{
    /// <summary>Whether decoding is greedy (temperature 0 or top-k 1): no randomness is drawn.</summary>
    public bool IsGreedy => Temperature == 0 || TopK == 1;

    /// <summary>Every stop token (<see cref="StopToken"/> when set, then <see cref="StopTokens"/>), without repeats.</summary>
    public IReadOnlyList<long> AllStopTokens()
    {
        var all = new List<long>();
        if (StopToken >= 0) all.Add(StopToken);
        foreach (var token in StopTokens ?? Array.Empty<long>())
            if (!all.Contains(token)) all.Add(token);
        return all;
    }

    /// <summary>
    /// Throws <see cref="ArgumentOutOfRangeException"/> naming the first option out of its range for a model with
    /// <paramref name="vocabularySize"/> tokens.
    /// </summary>
    public void Validate(int vocabularySize)
    {
        if (MaxNewTokens < 0)
            throw new ArgumentOutOfRangeException(nameof(MaxNewTokens), MaxNewTokens, $"{nameof(MaxNewTokens)} must be at least 0; got {MaxNewTokens}.");
        if (!(Temperature >= 0 && double.IsFinite(Temperature)))
            throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, $"{nameof(Temperature)} must be finite and at least 0; got {Temperature}.");
        if (TopK < 0)
            throw new ArgumentOutOfRangeException(nameof(TopK), TopK, $"{nameof(TopK)} must be at least 0; got {TopK}.");
        if (StopToken < -1 || StopToken >= vocabularySize)
            throw new ArgumentOutOfRangeException(nameof(StopToken), StopToken, $"{nameof(StopToken)} must be in [-1, {vocabularySize - 1}]; got {StopToken}.");
        if (!(TopP > 0 && TopP <= 1))
            throw new ArgumentOutOfRangeException(nameof(TopP), TopP, $"{nameof(TopP)} must be in (0, 1]; got {TopP}.");
        foreach (var token in StopTokens ?? Array.Empty<long>())
            if (token < 0 || token >= vocabularySize)
                throw new ArgumentOutOfRangeException(nameof(StopTokens), token, $"Every entry of {nameof(StopTokens)} must be in [0, {vocabularySize - 1}]; got {token}.");
    }
}
