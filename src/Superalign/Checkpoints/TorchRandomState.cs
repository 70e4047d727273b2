using static TorchSharp.torch;

namespace Superalign.Checkpoints;

/// <summary>
/// The state of libtorch's global CPU generator (what dropout and other in-model sampling draw from on the CPU), as a
/// checkpoint part. CUDA generators are not included.
/// </summary>
public sealed class TorchRandomState : ICheckpointable
{
    /// <summary>The one instance: the generator is process-wide.</summary>
    public static TorchRandomState Cpu { get; } = new();

    private TorchRandomState()
    {
    }

    /// <inheritdoc />
    public void SaveState(CheckpointWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        using var state = random.get_rng_state();
        writer.Write("cpu", state);
    }

    /// <inheritdoc />
    public Action PrepareRestore(CheckpointReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        long[] shape;
        using (var current = random.get_rng_state()) shape = current.shape;
        var state = reader.ReadTensor("cpu", ScalarType.Byte, shape).DetachFromDisposeScope();
        return () =>
        {
            random.set_rng_state(state);
            state.Dispose();
        };
    }
}
