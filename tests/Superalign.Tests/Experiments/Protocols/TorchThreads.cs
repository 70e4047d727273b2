using TorchSharp;

namespace Superalign.Tests.Experiments.Protocols;

/// <summary>
/// Runs TorchSharp on one thread until disposed, then restores the previous count. The protocol tests train many
/// tiny models, which on a small shared machine run several times faster on one thread; test collections run
/// serially (xunit.runner.json), so the global setting cannot leak into a concurrent test.
/// </summary>
internal sealed class TorchThreads : IDisposable
{
    private readonly int _saved;

    private TorchThreads(int threads)
    {
        _saved = torch.get_num_threads();
        torch.set_num_threads(threads);
    }

    public static TorchThreads Single() => new(1);

    public void Dispose() => torch.set_num_threads(_saved);
}
