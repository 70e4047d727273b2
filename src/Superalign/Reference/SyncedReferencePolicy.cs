using Superalign.Checkpoints;
using static TorchSharp.torch;

namespace Superalign.Reference;

/// <summary>
/// TR-DPO's trust-region reference (Gorbatovski et al. 2024): a copy of the policy softly synced every
/// <see cref="SyncEvery"/> updates as <c>ref ← (1 − α)·ref + α·θ</c>. Cached reference log-probs are not valid with it.
/// </summary>
public sealed class SyncedReferencePolicy : IReferencePolicy, ICheckpointable
{
    private readonly IStudent _reference;

    /// <summary>Starts from a copy of <paramref name="student"/>.</summary>
    /// <param name="student">The policy being trained.</param>
    /// <param name="alpha">Mixing weight α in (0, 1] (TRL default 0.6).</param>
    /// <param name="syncEvery">Updates between syncs, &gt;= 1 (TRL default 512).</param>
    public SyncedReferencePolicy(IStudent student, double alpha = 0.6, int syncEvery = 512)
    {
        ArgumentNullException.ThrowIfNull(student);
        if (!(alpha > 0 && alpha <= 1)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must be in (0, 1].");
        if (syncEvery < 1) throw new ArgumentOutOfRangeException(nameof(syncEvery), syncEvery, "syncEvery must be >= 1.");
        Alpha = alpha;
        SyncEvery = syncEvery;
        _reference = student.Clone();
        _reference.SetTraining(false);
        foreach (var p in _reference.Parameters()) p.requires_grad = false;
    }

    /// <summary>Mixing weight α.</summary>
    public double Alpha { get; }

    /// <summary>Updates between syncs.</summary>
    public int SyncEvery { get; }

    /// <summary>Number of syncs done.</summary>
    public int Syncs { get; private set; }

    /// <summary>The current reference model.</summary>
    public IStudent Reference => _reference;

    /// <inheritdoc />
    public bool IsStatic => false;

    /// <inheritdoc />
    public (Tensor Chosen, Tensor Rejected) LogProbs(PreferenceBatch batch)
    {
        using var _ = no_grad();
        return Superalign.LogProbs.Pair(_reference, batch.To(_reference.Device));
    }

    /// <inheritdoc />
    public void AfterUpdate(IStudent policy, long updates)
    {
        if (updates % SyncEvery != 0) return;
        using var _ = no_grad();
        var target = _reference.Parameters();
        var source = policy.Parameters();
        if (target.Count != source.Count)
            throw new InvalidOperationException("The policy and its reference have different parameter lists.");
        for (int i = 0; i < target.Count; i++) target[i].mul_(1 - Alpha).add_(source[i], alpha: Alpha);
        Syncs++;
    }

    /// <summary>Writes the current reference weights (section <c>model</c>) and the number of syncs.</summary>
    /// <exception cref="NotSupportedException">The reference model cannot be checkpointed.</exception>
    public void SaveState(CheckpointWriter writer)
    {
        ReferenceState.Save(_reference, writer);
        writer.Write("syncs", Syncs);
    }

    /// <inheritdoc />
    public Action PrepareRestore(CheckpointReader reader)
    {
        var model = ReferenceState.Prepare(_reference, reader);
        int syncs = (int)reader.ReadInt64("syncs", 0, int.MaxValue);
        return () =>
        {
            model();
            Syncs = syncs;
        };
    }

    /// <inheritdoc />
    public void Dispose() => _reference.Dispose();
}
