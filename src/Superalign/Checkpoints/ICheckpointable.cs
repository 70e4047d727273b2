namespace Superalign.Checkpoints;

/// <summary>
/// Something whose state goes into a training checkpoint: a student, the optimizer, a reference policy, a batch source,
/// a tokenizer, or your own component. Implement it on a custom <see cref="Data.IBatchSource{T}"/> so that a resumed
/// run draws the same batches as an uninterrupted one.
/// </summary>
/// <remarks>
/// Restoring has two phases so that a load is all or nothing: <see cref="PrepareRestore"/> reads and checks everything
/// (and may throw), touching nothing; the action it returns applies the state and must not fail. A checkpoint load
/// prepares every part before it applies any.
/// </remarks>
public interface ICheckpointable
{
    /// <summary>Writes the state under keys of the component's choosing (the caller gives each component its own section).</summary>
    /// <param name="writer">Where the state goes.</param>
    void SaveState(CheckpointWriter writer);

    /// <summary>
    /// Reads and checks the state written by <see cref="SaveState"/>, without changing the component, and returns
    /// the action that applies it. The action must not throw.
    /// </summary>
    /// <param name="reader">The component's section of a verified checkpoint.</param>
    /// <exception cref="CheckpointException">The state is missing or does not fit this component (the message names the key).</exception>
    Action PrepareRestore(CheckpointReader reader);
}
