using Superalign.Checkpoints;
using Superalign.Students;
using Superalign.Students.Adapters;
using static TorchSharp.torch;

namespace Superalign.Reference;

/// <summary>
/// The reference policy of a LoRA-adapted student (<see cref="Lora.Apply"/>): the student itself with its adapters
/// disabled — its frozen base model — evaluated under <c>no_grad</c> in evaluation mode. No second copy of the model is
/// held, as in TRL's DPO with a PEFT model. Works with every conformity objective that needs a reference.
/// </summary>
/// <remarks>
/// The base stays fixed while only the adapters train, so the reference is static and cached reference log-probs stay
/// valid. The student's training mode and the adapters' enabled states are restored after each evaluation. It holds no
/// state of its own: a checkpoint section of it is empty.
/// </remarks>
public sealed class AdapterDisabledReference : IReferencePolicy, ICheckpointable
{
    /// <summary>Uses <paramref name="student"/> with its adapters disabled as the reference.</summary>
    /// <exception cref="ArgumentException">The student holds no LoRA adapter (a reference equal to the policy is a mistake).</exception>
    public AdapterDisabledReference(TorchStudent student)
    {
        ArgumentNullException.ThrowIfNull(student);
        if (!Lora.HasAdapters(student))
            throw new ArgumentException($"{student.Name} holds no LoRA adapter: with adapters disabled it would be the policy itself. Apply adapters first (Lora.Apply) or use {nameof(FrozenReferencePolicy)}.", nameof(student));
        Student = student;
    }

    /// <summary>Uses the student of <paramref name="adapters"/> with those adapters disabled as the reference.</summary>
    public AdapterDisabledReference(LoraAdapters adapters)
        : this((adapters ?? throw new ArgumentNullException(nameof(adapters))).Student)
    {
    }

    /// <summary>The adapted student whose base model is the reference.</summary>
    public TorchStudent Student { get; }

    /// <inheritdoc />
    public bool IsStatic => true;

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">The adapters are merged.</exception>
    public (Tensor Chosen, Tensor Rejected) LogProbs(PreferenceBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        bool training = Student.IsTraining;
        using var _ = no_grad();
        using var disabled = Lora.DisableAdapters(Student);
        Student.SetTraining(false);
        try
        {
            return Superalign.LogProbs.Pair(Student, batch.To(Student.Device));
        }
        finally
        {
            Student.SetTraining(training);
        }
    }

    /// <inheritdoc />
    public void AfterUpdate(IStudent policy, long updates)
    {
    }

    /// <summary>Writes nothing: the reference is the student's frozen base, saved with the student.</summary>
    public void SaveState(CheckpointWriter writer) => ArgumentNullException.ThrowIfNull(writer);

    /// <inheritdoc />
    public Action PrepareRestore(CheckpointReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return () => { };
    }

    /// <summary>Does nothing: the student is not owned.</summary>
    public void Dispose()
    {
    }
}
