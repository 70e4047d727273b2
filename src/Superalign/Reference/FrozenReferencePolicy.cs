using Superalign.Checkpoints;
using static TorchSharp.torch;

namespace Superalign.Reference;

/// <summary>
/// The reference policy as a frozen copy of a student (by default the student before training): one extra forward
/// pass per conformity step. Prefer cached reference log-probs in the data
/// (<see cref="Data.PreferenceDataset.WithReferenceLogProbs"/>) when the reference never changes.
/// </summary>
public sealed class FrozenReferencePolicy : IReferencePolicy, ICheckpointable
{
    private readonly bool _owns;

    /// <summary>Uses <paramref name="reference"/> as it is (it is switched to evaluation mode and gradients off).</summary>
    public FrozenReferencePolicy(IStudent reference, bool ownsReference = false)
    {
        Reference = reference ?? throw new ArgumentNullException(nameof(reference));
        _owns = ownsReference;
        Reference.SetTraining(false);
        foreach (var p in Reference.Parameters()) p.requires_grad = false;
    }

    /// <summary>A frozen deep copy of <paramref name="student"/>'s current parameters, owned by the policy.</summary>
    public static FrozenReferencePolicy CopyOf(IStudent student)
    {
        ArgumentNullException.ThrowIfNull(student);
        return new FrozenReferencePolicy(student.Clone(), ownsReference: true);
    }

    /// <summary>The frozen reference model.</summary>
    public IStudent Reference { get; }

    /// <inheritdoc />
    public bool IsStatic => true;

    /// <inheritdoc />
    public (Tensor Chosen, Tensor Rejected) LogProbs(PreferenceBatch batch)
    {
        using var _ = no_grad();
        return Superalign.LogProbs.Pair(Reference, batch.To(Reference.Device));
    }

    /// <inheritdoc />
    public void AfterUpdate(IStudent policy, long updates)
    {
    }

    /// <summary>Writes the reference model's weights (section <c>model</c>): a resumed run gets the reference it started with.</summary>
    /// <exception cref="NotSupportedException">The reference model cannot be checkpointed.</exception>
    public void SaveState(CheckpointWriter writer) => ReferenceState.Save(Reference, writer);

    /// <inheritdoc />
    public Action PrepareRestore(CheckpointReader reader) => ReferenceState.Prepare(Reference, reader);

    /// <inheritdoc />
    public void Dispose()
    {
        if (_owns) Reference.Dispose();
    }
}
