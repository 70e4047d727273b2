using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Supervision;

/// <summary>A supervisor that returns fixed soft labels (whatever the features), for hand-made cases.</summary>
internal sealed class FixedSupervisor(string name, double[,] labels) : ILabelSupervisor
{
    public string Name => name;

    public Tensor Label(Tensor features)
    {
        int b = labels.GetLength(0), c = labels.GetLength(1);
        var flat = new float[b * c];
        for (int i = 0; i < b; i++)
            for (int j = 0; j < c; j++) flat[i * c + j] = (float)labels[i, j];
        return tensor(flat, new long[] { b, c }, device: features.device);
    }
}

internal static class SupervisionTestKit
{
    /// <summary>
    /// Asserts that <paramref name="call"/> leaves exactly <paramref name="results"/> new live tensors: its results.
    /// Counts this thread's live tensors: the global <see cref="torch.Tensor.TotalCount"/> also drops whenever the
    /// finalizer thread collects some other test's garbage tensor, which made the check flaky.
    /// </summary>
    public static T LeavesOnly<T>(int results, Func<T> call)
    {
        long before = LiveTensors;
        var value = call();
        Assert.Equal(before + results, LiveTensors);
        return value;
    }

    /// <summary>Tensors alive on this thread (created minus disposed), whether or not a dispose scope holds them.</summary>
    public static long LiveTensors => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    /// <summary>3 classes by the signs of the first two features: 0 = both ≤ 0, 1 = one positive, 2 = both positive.</summary>
    public static Tensor SignRule(Tensor x) => x.select(1, 0).gt(0).to_type(ScalarType.Int64) + x.select(1, 1).gt(0).to_type(ScalarType.Int64);

    public static Tensor Features(int n, int f, long seed)
    {
        using var g = new Generator((ulong)seed, CPU);
        return randn(new long[] { n, f }, generator: g);
    }

    public static long[] Longs(Tensor t) => t.cpu().to_type(ScalarType.Int64).data<long>().ToArray();

    public static float[] Floats(Tensor t) => t.cpu().to_type(ScalarType.Float32).contiguous().data<float>().ToArray();

    /// <summary>A count of <paramref name="n"/> Bernoulli(<paramref name="p"/>) trials within 4.5 binomial standard deviations (exact for p = 0 or 1).</summary>
    public static void BinomialCount(long hits, long n, double p, string what)
    {
        double sd = Math.Sqrt(n * p * (1 - p)), expected = n * p;
        Assert.True(Math.Abs(hits - expected) <= 4.5 * sd,
            $"{what}: {hits} of {n} (rate {hits / (double)n:F4}), expected rate {p:F4} ± {4.5 * sd / n:F4}");
    }
}
