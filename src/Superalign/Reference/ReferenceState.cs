using Superalign.Checkpoints;

namespace Superalign.Reference;

/// <summary>The reference model of a policy as a checkpoint section (<c>model</c>).</summary>
internal static class ReferenceState
{
    public static void Save(IStudent model, CheckpointWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        Part(model).SaveState(writer.Section("model"));
    }

    public static Action Prepare(IStudent model, CheckpointReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return Part(model).PrepareRestore(reader.Section("model"));
    }

    private static ICheckpointable Part(IStudent model) => model as ICheckpointable ??
        throw new NotSupportedException($"The reference model ({model.GetType().Name}) cannot be checkpointed: it does not implement {nameof(ICheckpointable)}.");
}
