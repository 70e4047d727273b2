using static TorchSharp.torch;

namespace Superalign;

/// <summary>
/// Keys and values of earlier positions, per layer, for incremental decoding with an
/// <see cref="IIncrementalLanguageModel"/>; and which of those positions are real tokens (left padding is not).
/// </summary>
/// <remarks>
/// One forward over <c>L</c> new tokens calls <see cref="Advance"/> once (which records the new tokens' padding mask,
/// moves <see cref="Length"/> on by <c>L</c> and returns the attention mask) and then <see cref="Append"/> once per
/// layer. Storage is allocated on the first append of each layer with room for <see cref="Capacity"/> positions, so a
/// decoding step copies only its own keys and values. The cache owns its tensors; dispose it when decoding ends.
/// </remarks>
public sealed class KeyValueCache : IDisposable
{
    private readonly Tensor?[] _keys;
    private readonly Tensor?[] _values;
    private readonly Tensor _valid; // [B, Capacity] bool: the position holds a real token
    private long _pending;
    private bool _disposed;

    /// <summary>An empty cache for <paramref name="layers"/> layers, <paramref name="batch"/> rows and at most
    /// <paramref name="capacity"/> positions, on <paramref name="device"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1 (the exception names it).</exception>
    public KeyValueCache(int layers, long batch, long capacity, Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (layers < 1) throw new ArgumentOutOfRangeException(nameof(layers), layers, $"{nameof(layers)} must be at least 1; got {layers}.");
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, $"{nameof(batch)} must be at least 1; got {batch}.");
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"{nameof(capacity)} must be at least 1; got {capacity}.");
        Layers = layers;
        Batch = batch;
        Capacity = capacity;
        Device = device;
        _keys = new Tensor?[layers];
        _values = new Tensor?[layers];
        _valid = zeros(new[] { batch, capacity }, ScalarType.Bool, device);
        _valid.DetachFromDisposeScope();
    }

    /// <summary>Number of layers.</summary>
    public int Layers { get; }

    /// <summary>Rows (sequences) decoded together.</summary>
    public long Batch { get; }

    /// <summary>Most positions the cache holds.</summary>
    public long Capacity { get; }

    /// <summary>Where the cache's tensors live.</summary>
    public Device Device { get; }

    /// <summary>Positions held so far, including those of the forward in progress.</summary>
    public long Length { get; private set; }

    /// <summary>
    /// Starts a forward over <paramref name="newTokens"/> positions: records which are real tokens, advances
    /// <see cref="Length"/> and returns the boolean attention mask <c>[B, 1, newTokens, Length]</c> (true = attend):
    /// causal, hiding padded keys; a padded query still sees itself, so no softmax row is empty.
    /// </summary>
    /// <param name="attentionMask">Bool or integer <c>[B, newTokens]</c>, nonzero for real tokens; null when all are.</param>
    /// <param name="newTokens">Positions this forward adds (at least 1).</param>
    /// <exception cref="ArgumentException">The mask's shape does not match, or the cache would overflow.</exception>
    public Tensor Advance(Tensor? attentionMask, long newTokens)
    {
        ThrowIfDisposed();
        if (newTokens < 1)
            throw new ArgumentOutOfRangeException(nameof(newTokens), newTokens, $"{nameof(newTokens)} must be at least 1; got {newTokens}.");
        if (Length + newTokens > Capacity)
            throw new ArgumentException($"The cache holds at most {Capacity} positions (Capacity); {Length} are used and {newTokens} more were asked for.", nameof(newTokens));
        if (attentionMask is not null && (attentionMask.dim() != 2 || attentionMask.shape[0] != Batch || attentionMask.shape[1] != newTokens))
            throw new ArgumentException($"attentionMask must be [{Batch}, {newTokens}]; got [{string.Join(", ", attentionMask.shape)}].", nameof(attentionMask));
        long start = Length, end = Length + newTokens;
        using (NewDisposeScope())
        {
            var slot = _valid.narrow(1, start, newTokens);
            if (attentionMask is null) slot.fill_(true);
            else slot.copy_(attentionMask.to(ScalarType.Bool));
        }
        Length = end;
        _pending = newTokens;
        // Query i (absolute position start + i) sees key j when j <= start + i and (j is real or j is i itself).
        var queries = arange(start, end, device: Device).unsqueeze(1);      // [L, 1]
        var keys = arange(0, end, device: Device).unsqueeze(0);             // [1, T]
        var causal = keys.le(queries);                                      // [L, T]
        var self = keys.eq(queries);                                        // [L, T]
        var valid = _valid.narrow(1, 0, end).unsqueeze(1);                  // [B, 1, T]
        return causal.unsqueeze(0).logical_and(valid).logical_or(self.unsqueeze(0)).unsqueeze(1);
    }

    /// <summary>
    /// Stores <paramref name="layer"/>'s keys and values <c>[B, KV, L, hd]</c> of the forward in progress (L as
    /// given to <see cref="Advance"/>) and returns every key and value so far, <c>[B, KV, Length, hd]</c> (views of
    /// the cache: use them before the next append).
    /// </summary>
    /// <exception cref="ArgumentException">The shapes do not match the cache or the forward in progress.</exception>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor keys, Tensor values)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(values);
        if (layer < 0 || layer >= Layers)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"{nameof(layer)} must be in [0, {Layers - 1}]; got {layer}.");
        if (keys.dim() != 4 || keys.shape[0] != Batch || keys.shape[2] != _pending || !keys.shape.SequenceEqual(values.shape))
            throw new ArgumentException(
                $"keys and values must both be [{Batch}, KV, {_pending}, hd] (the {_pending} positions passed to Advance); got [{string.Join(", ", keys.shape)}] and [{string.Join(", ", values.shape)}].",
                nameof(keys));
        if (_keys[layer] is null)
        {
            _keys[layer] = Storage(keys);
            _values[layer] = Storage(values);
        }
        var storedKeys = _keys[layer]!;
        var storedValues = _values[layer]!;
        if (storedKeys.shape[1] != keys.shape[1] || storedKeys.shape[3] != keys.shape[3])
            throw new ArgumentException($"Layer {layer} caches [{Batch}, {storedKeys.shape[1]}, T, {storedKeys.shape[3]}]; got [{string.Join(", ", keys.shape)}].", nameof(keys));
        long start = Length - _pending;
        using (NewDisposeScope())
        {
            storedKeys.narrow(2, start, _pending).copy_(keys);
            storedValues.narrow(2, start, _pending).copy_(values);
        }
        return (storedKeys.narrow(2, 0, Length), storedValues.narrow(2, 0, Length));
    }

    private Tensor Storage(Tensor like)
    {
        var storage = zeros(new[] { Batch, like.shape[1], Capacity, like.shape[3] }, like.dtype, Device);
        storage.DetachFromDisposeScope();
        return storage;
    }

    /// <summary>Frees the cached tensors.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var t in _keys) t?.Dispose();
        foreach (var t in _values) t?.Dispose();
        _valid.Dispose();
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);
}
