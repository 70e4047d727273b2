namespace Superalign.Experiments.Protocols;

/// <summary>
/// The one way a protocol derives seeds: every random stream of a run (batch orders, initial weights, samples,
/// bootstrap resamples, prompt draws) is <see cref="Mix(int, int)"/> of the run's seed and a stream number the protocol
/// names, so that streams never share a seed and a run repeats in every process.
/// </summary>
/// <remarks>
/// <c>Mix(seed, stream) = seed·7919 + stream·104729 + 17</c> (int arithmetic, wrapping): two (seed, stream) pairs
/// collide only when their seeds differ by a multiple of 104729 (both factors are prime), so seeds below that never
/// collide. Deeper streams (per round, per sample) mix again: <c>Mix(seed, a, b) = Mix(Mix(seed, a), b)</c>.
/// </remarks>
internal static class SeedStreams
{
    /// <summary>The seed of stream <paramref name="stream"/> of a run with seed <paramref name="seed"/>.</summary>
    public static int Mix(int seed, int stream) => unchecked(seed * 7919 + stream * 104729 + 17);

    /// <summary>The seed of sub-stream <paramref name="substream"/> of stream <paramref name="stream"/>.</summary>
    public static int Mix(int seed, int stream, int substream) => Mix(Mix(seed, stream), substream);

    /// <summary>The seed of sub-stream <paramref name="inner"/> of sub-stream <paramref name="substream"/> of stream <paramref name="stream"/>.</summary>
    public static int Mix(int seed, int stream, int substream, int inner) => Mix(Mix(Mix(seed, stream), substream), inner);
}
