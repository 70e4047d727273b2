using Superalign.Supervision;
using Xunit;
using static Superalign.Tests.Supervision.SupervisionTestKit;
using static TorchSharp.torch;

namespace Superalign.Tests.Supervision;

public sealed class NoisySupervisorTests
{
    private const int N = 30_000;
    private static readonly GroundTruthSupervisor Oracle = new(3, SignRule);

    private static (long[] Clean, long[] Noisy) Flips(NoisySupervisor noisy, Tensor x)
    {
        using var scope = NewDisposeScope();
        return (Longs(Oracle.Labels(x)), Longs(noisy.Label(x).argmax(1)));
    }

    [Fact]
    public void Symmetric_noise_flips_at_the_rate_to_the_other_classes_uniformly()
    {
        using var scope = NewDisposeScope();
        var x = Features(N, 2, seed: 1);
        var (clean, noisy) = Flips(new NoisySupervisor(Oracle, flipRate: 0.3, seed: 7), x);

        long flipped = clean.Zip(noisy).Count(p => p.First != p.Second);
        BinomialCount(flipped, N, 0.3, "flips");
        // A flip from class 0 goes to 1 or 2 with probability 0.15 each.
        long zeros0 = clean.Count(c => c == 0);
        BinomialCount(clean.Zip(noisy).Count(p => p.First == 0 && p.Second == 1), zeros0, 0.15, "0 → 1");
        BinomialCount(clean.Zip(noisy).Count(p => p.First == 0 && p.Second == 2), zeros0, 0.15, "0 → 2");
    }

    [Fact]
    public void Transition_matrix_is_respected_cell_by_cell()
    {
        using var scope = NewDisposeScope();
        double[,] t = { { 0.7, 0.2, 0.1 }, { 0, 1, 0 }, { 0.5, 0, 0.5 } };
        var x = Features(N, 2, seed: 2);
        var noisySupervisor = new NoisySupervisor(Oracle, t, seed: 3);
        var (clean, noisy) = Flips(noisySupervisor, x);

        for (int i = 0; i < 3; i++)
        {
            long ni = clean.Count(c => c == i);
            Assert.True(ni > 1000, $"class {i} has {ni} examples");
            for (int j = 0; j < 3; j++)
                BinomialCount(clean.Zip(noisy).Count(p => p.First == i && p.Second == j), ni, t[i, j], $"T[{i}, {j}]");
        }
        Assert.Equal(t, noisySupervisor.TransitionMatrix(3));
    }

    [Fact]
    public void Per_class_rates_flip_each_class_at_its_own_rate()
    {
        using var scope = NewDisposeScope();
        var x = Features(N, 2, seed: 4);
        var (clean, noisy) = Flips(new NoisySupervisor(Oracle, new[] { 0.0, 0.4, 1.0 }, seed: 5), x);

        for (int i = 0; i < 3; i++)
        {
            long ni = clean.Count(c => c == i);
            BinomialCount(clean.Zip(noisy).Count(p => p.First == i && p.Second != i), ni, new[] { 0.0, 0.4, 1.0 }[i], $"class {i}");
        }
        Assert.Equal(new double[,] { { 1, 0, 0 }, { 0.2, 0.6, 0.2 }, { 0.5, 0.5, 0 } }, new NoisySupervisor(Oracle, new[] { 0.0, 0.4, 1.0 }).TransitionMatrix(3));
    }

    [Fact]
    public void Noise_is_seeded_and_deterministic()
    {
        using var scope = NewDisposeScope();
        var x = Features(500, 2, seed: 6);
        var a = new NoisySupervisor(Oracle, 0.4, seed: 11);
        var b = new NoisySupervisor(Oracle, 0.4, seed: 11);
        var c = new NoisySupervisor(Oracle, 0.4, seed: 12);

        var first = Floats(a.Label(x));
        Assert.Equal(first, Floats(b.Label(x)));
        Assert.NotEqual(first, Floats(c.Label(x)));
        // The stream continues: a second call draws fresh noise; Reset replays it.
        Assert.NotEqual(first, Floats(a.Label(x)));
        a.Reset();
        Assert.Equal(first, Floats(a.Label(x)));
    }

    [Fact]
    public void A_flip_swaps_probabilities_so_soft_labels_keep_their_profile()
    {
        using var scope = NewDisposeScope();
        var rows = new double[200, 3];
        for (int i = 0; i < 200; i++) (rows[i, 0], rows[i, 1], rows[i, 2]) = (0.6, 0.3, 0.1);
        var noisy = new NoisySupervisor(new FixedSupervisor("soft", rows), flipRate: 1.0, seed: 1);

        var x = zeros(200, 2);
        var soft = LeavesOnly(1, () => noisy.Label(x));
        var values = Floats(soft);

        int toOne = 0, toTwo = 0;
        for (int i = 0; i < 200; i++)
        {
            var row = values.AsSpan(3 * i, 3).ToArray();
            if (row.SequenceEqual(new[] { 0.3f, 0.6f, 0.1f })) toOne++;
            else if (row.SequenceEqual(new[] { 0.1f, 0.3f, 0.6f })) toTwo++;
            else Assert.Fail($"row {i} = [{string.Join(", ", row)}] is not a swap of class 0 with another class");
        }
        Assert.True(toOne > 60 && toTwo > 60, $"0 → 1: {toOne}, 0 → 2: {toTwo}");
    }

    [Fact]
    public void Zero_rate_changes_nothing()
    {
        using var scope = NewDisposeScope();
        var x = Features(100, 2, seed: 8);
        Assert.Equal(Floats(Oracle.Label(x)), Floats(new NoisySupervisor(Oracle, 0.0).Label(x)));
    }

    [Fact]
    public void Bad_inputs_name_the_parameter()
    {
        Assert.Equal("flipRate", Assert.Throws<ArgumentOutOfRangeException>(() => new NoisySupervisor(Oracle, 1.5)).ParamName);
        Assert.Equal("flipRate", Assert.Throws<ArgumentOutOfRangeException>(() => new NoisySupervisor(Oracle, -0.1)).ParamName);
        Assert.Equal("flipRate", Assert.Throws<ArgumentOutOfRangeException>(() => new NoisySupervisor(Oracle, double.NaN)).ParamName);
        Assert.Equal("perClassFlipRates", Assert.Throws<ArgumentOutOfRangeException>(() => new NoisySupervisor(Oracle, new[] { 0.1, -0.2, 0.3 })).ParamName);
        Assert.Equal("perClassFlipRates", Assert.Throws<ArgumentException>(() => new NoisySupervisor(Oracle, new[] { 0.1 })).ParamName);
        Assert.Equal("transition", Assert.Throws<ArgumentException>(() => new NoisySupervisor(Oracle, new double[,] { { 0.5, 0.4 }, { 0, 1 } })).ParamName);
        Assert.Equal("transition", Assert.Throws<ArgumentException>(() => new NoisySupervisor(Oracle, new double[,] { { 1, 0, 0 }, { 0, 1, 0 } })).ParamName);
        Assert.Equal("transition", Assert.Throws<ArgumentOutOfRangeException>(() => new NoisySupervisor(Oracle, new double[,] { { 1.5, -0.5 }, { 0, 1 } })).ParamName);
        Assert.Equal("inner", Assert.Throws<ArgumentNullException>(() => new NoisySupervisor(null!, 0.1)).ParamName);

        using var scope = NewDisposeScope();
        // A 2×2 matrix for a 3-class supervisor: the mismatch is reported when the classes become known.
        var mismatch = new NoisySupervisor(Oracle, new double[,] { { 0.9, 0.1 }, { 0.1, 0.9 } });
        Assert.Contains("3 classes", Assert.Throws<InvalidOperationException>(() => mismatch.Label(zeros(4, 2))).Message);
        Assert.Equal("features", Assert.Throws<ArgumentException>(() => mismatch.Label(zeros(4))).ParamName);
    }
}
