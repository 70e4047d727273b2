using Superalign.Experiments.Protocols;
using Xunit;

namespace Superalign.Tests.Experiments.Protocols;

public sealed class SeedStreamsTests
{
    [Fact]
    public void Mix_is_the_documented_formula_and_nests()
    {
        Assert.Equal(17, SeedStreams.Mix(0, 0));
        Assert.Equal(2 * 7919 + 5 * 104729 + 17, SeedStreams.Mix(2, 5));
        Assert.Equal(unchecked(-1 * 7919 + 17), SeedStreams.Mix(-1, 0));
        int inner = 2 * 7919 + 5 * 104729 + 17;
        Assert.Equal(unchecked(inner * 7919 + 9 * 104729 + 17), SeedStreams.Mix(2, 5, 9));
        Assert.Equal(SeedStreams.Mix(SeedStreams.Mix(2, 5, 9), 4), SeedStreams.Mix(2, 5, 9, 4));
    }

    [Fact]
    public void Seeds_and_streams_of_a_sweep_never_share_a_seed()
    {
        // 200 seeds × 5000 streams: the pairs a protocol uses (streams up to a few thousand) all differ.
        var seen = new HashSet<int>();
        for (int seed = 0; seed < 200; seed++)
            for (int stream = 0; stream < 5000; stream++)
                Assert.True(seen.Add(SeedStreams.Mix(seed, stream)), $"seed {seed}, stream {stream} repeats a seed");
    }
}
