using TorchSharp;
using static TorchSharp.torch;

namespace Superalign;

/// <summary>
/// Picks each step's next token from the last position's logits (greedy or sampled through
/// <see cref="LanguageModelGeneration.ProcessLogits"/>) and applies the stop tokens: shared by every decoding loop, so
/// the cached and the cache-free paths draw the same random numbers for the same seed.
/// </summary>
internal sealed class TokenSelector : IDisposable
{
    private readonly GenerationOptions _options;
    private readonly int _vocabularySize;
    private readonly Generator? _generator;
    private readonly Tensor? _stops;     // [S] int64
    private readonly Tensor? _finished;  // [B, 1] bool
    private readonly Tensor? _fill;      // [B, 1] int64: the stop token a finished row repeats

    /// <summary>A selector for <paramref name="batch"/> rows; <paramref name="options"/> must be validated.</summary>
    public TokenSelector(GenerationOptions options, int vocabularySize, long batch, Device device)
    {
        _options = options;
        _vocabularySize = vocabularySize;
        // The generator is created only for sampling, as before this class existed: greedy decoding draws nothing.
        _generator = options.Seed is { } seed && !options.IsGreedy ? new Generator(unchecked((ulong)seed), device) : null;
        var stops = options.AllStopTokens();
        if (stops.Count > 0)
        {
            // Owned by the selector, not by the caller's dispose scope.
            _stops = tensor(stops.ToArray(), ScalarType.Int64, device);
            _stops.DetachFromDisposeScope();
            _finished = zeros(new[] { batch, 1L }, ScalarType.Bool, device);
            _finished.DetachFromDisposeScope();
            _fill = zeros(new[] { batch, 1L }, ScalarType.Int64, device);
            _fill.DetachFromDisposeScope();
        }
    }

    /// <summary>Whether any stop token is set.</summary>
    public bool Stops => _stops is not null;

    /// <summary>
    /// The next token <c>[B, 1]</c> for next-token logits <c>[B, V]</c>; rows that stopped earlier get their stop
    /// token again. Records rows that stop now.
    /// </summary>
    public Tensor Select(Tensor logits)
    {
        var next = _options.IsGreedy
            ? logits.argmax(-1, keepdim: true)
            : LanguageModelGeneration.Filter(logits, _options, _vocabularySize).softmax(-1)
                .multinomial(1, replacement: false, generator: _generator);
        if (_stops is null) return next;
        next = where(_finished!, _fill!, next);
        var stopsNow = next.unsqueeze(-1).eq(_stops).any(-1).logical_and(_finished!.logical_not());
        _fill!.copy_(where(stopsNow, next, _fill!));
        _finished!.logical_or_(stopsNow);
        return next;
    }

    /// <summary>Whether every row has emitted a stop token (a device synchronisation; false without stop tokens).</summary>
    public bool AllStopped()
    {
        if (_finished is null) return false;
        using var all = _finished.all();
        return all.item<bool>();
    }

    /// <summary>Fills <paramref name="rest"/> <c>[B, n]</c> with each row's stop token (after <see cref="AllStopped"/>).</summary>
    public void FillRest(Tensor rest)
    {
        if (_fill is null || rest.shape[1] == 0) return;
        using var scope = NewDisposeScope();
        rest.copy_(_fill.expand(rest.shape));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _generator?.Dispose();
        _stops?.Dispose();
        _finished?.Dispose();
        _fill?.Dispose();
    }
}
