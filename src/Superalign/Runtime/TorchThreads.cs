using TorchSharp;

namespace Superalign.Runtime;

/// <summary>
/// The library's recommendation for libtorch's intra-op thread count. libtorch defaults to one thread per core, and its
/// OpenMP workers spin-wait between operations: for small models each operation is too short to share, so extra threads
/// only add synchronisation, and on a loaded or shared machine they wait for cores held by other processes. Measured
/// with <c>benchmarks -- --threads</c> (one competence update of an MLP, batch 64, 1 against 2 threads as interleaved
/// pairs) on a 2-core AMD EPYC: idle, two threads took 1.26× the time of one at 13 k parameters, 0.98× at 149 k,
/// 0.77× at 561 k and 0.66× at 2.2 M; with other builds loading the machine, two threads took 3.4–52× the time of one
/// at every size up to 8.5 M.
/// </summary>
/// <remarks>
/// Nothing in the library changes the thread count by itself (it is process-wide state of the host program). Call
/// <see cref="Use"/> once at start-up with <see cref="Recommended"/>, or set it yourself. On a shared or busy machine
/// prefer one thread at any size. To use more cores for small models, run more processes (seeds, shards:
/// <c>superalign run --jobs K</c>) with one thread each.
/// </remarks>
public static class TorchThreads
{
    /// <summary>Below this many trainable parameters one thread is recommended (see the class remarks for the measurement).</summary>
    public const long SingleThreadBelowParameters = 250_000;

    /// <summary>
    /// The recommended thread count for training a model of <paramref name="parameters"/> parameters: 1 below
    /// <see cref="SingleThreadBelowParameters"/>, else <paramref name="cores"/> (default: the processors this process may use).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="parameters"/> is negative or <paramref name="cores"/> is below 1.</exception>
    public static int Recommended(long parameters, int? cores = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(parameters);
        int available = cores ?? Environment.ProcessorCount;
        ArgumentOutOfRangeException.ThrowIfLessThan(available, 1, nameof(cores));
        return parameters < SingleThreadBelowParameters ? 1 : available;
    }

    /// <summary>
    /// Sets libtorch's intra-op thread count to <paramref name="threads"/> and returns a scope whose disposal restores
    /// the previous count.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threads"/> is below 1.</exception>
    public static IDisposable Use(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        int previous = torch.get_num_threads();
        torch.set_num_threads(threads);
        return new Restore(previous);
    }

    private sealed class Restore(int previous) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            torch.set_num_threads(previous);
        }
    }
}
