using Xunit;
using static Superalign.Tests.Students.StudentTestKit;
using static TorchSharp.torch;

namespace Superalign.Tests.Abstractions;

public sealed class KeyValueCacheTests
{
    private static bool[,] Row(Tensor mask, int row)
    {
        // mask [B, 1, L, T] → row's [L, T] as a bool matrix
        var m = mask.select(0, row).select(0, 0);
        long l = m.shape[0], t = m.shape[1];
        var data = m.data<bool>().ToArray();
        var result = new bool[l, t];
        for (long i = 0; i < l; i++)
            for (long j = 0; j < t; j++)
                result[i, j] = data[i * t + j];
        return result;
    }

    private static bool[,] M(params int[][] rows)
    {
        var result = new bool[rows.Length, rows[0].Length];
        for (int i = 0; i < rows.Length; i++)
            for (int j = 0; j < rows[i].Length; j++)
                result[i, j] = rows[i][j] != 0;
        return result;
    }

    [Fact]
    public void Advance_gives_the_hand_computed_masks()
    {
        using var scope = NewDisposeScope();
        using var cache = new KeyValueCache(layers: 1, batch: 2, capacity: 6, CPU);

        // Prefill: row 0 is three real tokens, row 1 one pad then two real tokens.
        var prefill = cache.Advance(tensor(new long[,] { { 1, 1, 1 }, { 0, 1, 1 } }), 3);
        Assert.Equal(new long[] { 2, 1, 3, 3 }, prefill.shape);
        Assert.Equal(ScalarType.Bool, prefill.dtype);
        Assert.Equal(M([1, 0, 0], [1, 1, 0], [1, 1, 1]), Row(prefill, 0));
        Assert.Equal(M([1, 0, 0], [0, 1, 0], [0, 1, 1]), Row(prefill, 1)); // the pad query sees only itself
        Assert.Equal(3, cache.Length);

        // One step, no mask: every earlier real token and itself.
        var step = cache.Advance(null, 1);
        Assert.Equal(new long[] { 2, 1, 1, 4 }, step.shape);
        Assert.Equal(M([1, 1, 1, 1]), Row(step, 0));
        Assert.Equal(M([0, 1, 1, 1]), Row(step, 1));

        // A padded step in row 1 (bool mask this time): like any query it sees the earlier real tokens and itself
        // (its output is unused), and later tokens do not see it.
        var padded = cache.Advance(tensor(new[,] { { true }, { false } }), 1);
        Assert.Equal(M([1, 1, 1, 1, 1]), Row(padded, 0));
        Assert.Equal(M([0, 1, 1, 1, 1]), Row(padded, 1));
        var last = cache.Advance(null, 1);
        Assert.Equal(M([1, 1, 1, 1, 1, 1]), Row(last, 0));
        Assert.Equal(M([0, 1, 1, 1, 0, 1]), Row(last, 1));
        Assert.Equal(6, cache.Length);
    }

    [Fact]
    public void Two_new_tokens_after_a_prefix_see_the_prefix_causally()
    {
        using var scope = NewDisposeScope();
        using var cache = new KeyValueCache(1, 1, 5, CPU);
        cache.Advance(tensor(new long[,] { { 0, 1 } }), 2);
        var chunk = cache.Advance(null, 2);
        Assert.Equal(M([0, 1, 1, 0], [0, 1, 1, 1]), Row(chunk, 0));
    }

    [Fact]
    public void Append_returns_every_key_and_value_so_far_per_layer()
    {
        using var scope = NewDisposeScope();
        using var cache = new KeyValueCache(layers: 2, batch: 2, capacity: 4, CPU);
        var k1 = randn(2, 3, 2, 5);
        var v1 = randn(2, 3, 2, 5);
        cache.Advance(null, 2);
        var (keys0, values0) = cache.Append(0, k1, v1);
        Identical(k1, keys0.contiguous(), "layer 0 keys after the prefill");
        Identical(v1, values0.contiguous(), "layer 0 values after the prefill");
        var (keys1, _) = cache.Append(1, k1 * 2, v1 * 2);
        Identical(k1 * 2, keys1.contiguous(), "layer 1 keys after the prefill");

        var k2 = randn(2, 3, 1, 5);
        var v2 = randn(2, 3, 1, 5);
        cache.Advance(null, 1);
        var (keys, values) = cache.Append(0, k2, v2);
        Assert.Equal(new long[] { 2, 3, 3, 5 }, keys.shape);
        Identical(cat(new[] { k1, k2 }, 2), keys.contiguous(), "layer 0 keys after a step");
        Identical(cat(new[] { v1, v2 }, 2), values.contiguous(), "layer 0 values after a step");
    }

    [Fact]
    public void Misuse_throws_and_names_what_is_wrong()
    {
        using var scope = NewDisposeScope();
        ThrowsNaming("layers", () => new KeyValueCache(0, 1, 1, CPU));
        ThrowsNaming("batch", () => new KeyValueCache(1, 0, 1, CPU));
        ThrowsNaming("capacity", () => new KeyValueCache(1, 1, 0, CPU));

        using var cache = new KeyValueCache(2, 2, 3, CPU);
        Assert.Equal("attentionMask", Assert.Throws<ArgumentException>(() => cache.Advance(ones(2, 3), 2)).ParamName);
        Assert.Equal("newTokens", Assert.Throws<ArgumentException>(() => cache.Advance(null, 4)).ParamName);
        cache.Advance(null, 2);
        Assert.Equal("keys", Assert.Throws<ArgumentException>(() => cache.Append(0, zeros(2, 1, 1, 4), zeros(2, 1, 1, 4))).ParamName);
        ThrowsNaming("layer", () => cache.Append(2, zeros(2, 1, 2, 4), zeros(2, 1, 2, 4)));
        cache.Append(0, zeros(2, 1, 2, 4), zeros(2, 1, 2, 4));
        Assert.Equal("newTokens", Assert.Throws<ArgumentException>(() => cache.Advance(null, 2)).ParamName); // 2 + 2 > 3
        cache.Dispose();
        Assert.Throws<ObjectDisposedException>(() => cache.Advance(null, 1));
    }

    [Fact]
    public void Dispose_frees_every_cached_tensor()
    {
        long before = LiveTensors;
        using (var scope = NewDisposeScope())
        {
            var cache = new KeyValueCache(2, 1, 4, CPU);
            cache.Advance(null, 1);
            cache.Append(0, zeros(1, 2, 1, 3), zeros(1, 2, 1, 3));
            cache.Append(1, zeros(1, 2, 1, 3), zeros(1, 2, 1, 3));
            cache.Dispose();
        }
        Assert.Equal(before, LiveTensors);
    }
}
