using Superalign.Students;
using static TorchSharp.torch;

namespace Superalign.Optimization;

/// <summary>
/// Copies of a <see cref="TorchStudent"/>'s buffers (BatchNorm running statistics and the like), taken before a step's
/// forward passes, so that a step that then fails leaves them as they were. Null for students without buffers, and for
/// students that are not <see cref="TorchStudent"/>s (whose buffers the optimizer cannot see).
/// </summary>
internal sealed class BufferSnapshot : IDisposable
{
    private readonly (Tensor Live, Tensor Copy)[] _buffers;

    private BufferSnapshot((Tensor, Tensor)[] buffers) => _buffers = buffers;

    /// <summary>The buffers a snapshot of <paramref name="student"/> copies (none for students that are not <see cref="TorchStudent"/>s).</summary>
    public static Tensor[] Of(IStudent student) => student is TorchStudent torch ? torch.Module.buffers().ToArray() : [];

    /// <summary>Copies of <paramref name="live"/> (the result of <see cref="Of"/>), or null when there are none.</summary>
    public static BufferSnapshot? Take(Tensor[] live)
    {
        if (live.Length == 0) return null;
        using var _ = no_grad();
        return new BufferSnapshot(live.Select(b => (b, b.clone().DetachFromDisposeScope())).ToArray());
    }

    public void Restore()
    {
        using var _ = no_grad();
        foreach (var (live, copy) in _buffers) live.copy_(copy);
    }

    public void Dispose()
    {
        foreach (var (_, copy) in _buffers) copy.Dispose();
    }
}
