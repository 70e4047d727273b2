using TorchSharp;

namespace Superalign.Runtime;

/// <summary>
/// The library's recommendation for libtorch's intra-op thread count. libtorch defaults to one thread per core, and its
/// OpenMP workers spin-wait between operations: for small models each operation is too short to share, so extra threads
/// only add synchronisation, and on a loaded or shared machine they wait for cores held by other processes. Measured
/// on a 2-core AMD EPYC shared with other builds (forward + backward + SGD step of an MLP, batch 64): two threads were
/// 20× slower than one at 13 k parameters, 2.8× slower at 2.2 M, and 1.6× faster at 8.5 M.
/// </summary>
/// <remarks>
/// Nothing in the library changes the thread count by itself (it is process-wide state of the host program). Call
/// <see cref="Use"/> once at start-up with <see cref="Recommended"/>, or set it yourself. To use more cores for small
/// models, run more processes (seeds, shards: <c>superalign run --jobs K</c>) with one thread each.
/// </remarks>
public static class TorchThreads
{
    /// <summary>Below this many trainable parameters one thread is recommended (see the class remarks for the measurement).</summary>
    public const long SingleThreadBelowParameters = 4_000_000;

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
