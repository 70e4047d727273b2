using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using TorchSharp;
using static TorchSharp.torch;

namespace Superalign.Benchmarks;

/// <summary>
/// The machine's float32 matmul peak as libtorch reaches it with the benchmarks' thread count: a square
/// <see cref="Size"/>² product into a preallocated output. The throughput columns divide by this figure.
/// </summary>
public class MatmulPeakBenchmark
{
    /// <summary>Side of the square matrices.</summary>
    public const int Size = 1536;

    /// <summary>FLOPs of one product: 2n³.</summary>
    public const double FlopsPerOperation = 2.0 * Size * Size * Size;

    private Tensor _a = null!, _b = null!, _c = null!;

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(Environment.ProcessorCount);
        _a = randn(Size, Size);
        _b = randn(Size, Size);
        _c = empty(Size, Size);
    }

    /// <summary>One product; GFLOP/s = 2n³ / time.</summary>
    [Benchmark]
    public void Matmul() => _c.addmm_(_a, _b, beta: 0, alpha: 1);

    [GlobalCleanup]
    public void Cleanup()
    {
        _a.Dispose();
        _b.Dispose();
        _c.Dispose();
    }

    /// <summary>Best-of-20 GFLOP/s measured in this process (used when the benchmark was not part of the run).</summary>
    public static double MeasureInProcess()
    {
        var bench = new MatmulPeakBenchmark();
        bench.Setup();
        try
        {
            for (int i = 0; i < 3; i++) bench.Matmul();
            double best = double.MaxValue;
            for (int i = 0; i < 20; i++)
            {
                var watch = Stopwatch.StartNew();
                bench.Matmul();
                best = Math.Min(best, watch.Elapsed.TotalSeconds);
            }
            return FlopsPerOperation / best / 1e9;
        }
        finally
        {
            bench.Cleanup();
        }
    }
}
