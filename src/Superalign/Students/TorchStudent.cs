using Superalign.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Superalign.Students;

/// <summary>
/// Base class for students backed by one TorchSharp module: parameters, training mode, cloning, saving and loading.
/// Derive from it to plug a custom model into the optimizers; implement <see cref="Logits"/> and
/// <see cref="CreateSibling"/>.
/// </summary>
/// <remarks>
/// <see cref="Save"/> writes a checkpoint (<see cref="Checkpoint"/>): every parameter and buffer of the module with a
/// checksum, the student's type and its <see cref="Configuration"/>. <see cref="Load"/> is all or nothing: a damaged
/// file or one of another architecture throws and leaves the student bitwise unchanged. After
/// <see cref="Dispose()"/> every member throws <see cref="ObjectDisposedException"/>.
/// </remarks>
public abstract class TorchStudent : IStudent, ICheckpointable
{
    private readonly nn.Module _module;
    private IReadOnlyList<Parameter>? _parameters;
    private bool _disposed;

    /// <summary>Wraps <paramref name="module"/> and moves it to <paramref name="device"/>.</summary>
    protected TorchStudent(string name, nn.Module module, Device device)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(device);
        Name = name;
        _module = module;
        Device = device;
        _module.to(device);
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public Device Device { get; }

    /// <summary>The wrapped module.</summary>
    public nn.Module Module => _module;

    /// <inheritdoc />
    public abstract Tensor Logits(ResponseBatch batch);

    /// <summary>A new student of the same architecture and device, with freshly initialised parameters.</summary>
    protected abstract TorchStudent CreateSibling();

    /// <inheritdoc />
    /// <remarks>
    /// The module's parameters that require gradients, in registration order. The list is computed once and cached:
    /// code that freezes parameters or adds some (LoRA adapters, <see cref="Adapters.Lora.Apply"/>) calls
    /// <see cref="InvalidateParameters"/>. Freezing parameters after the list was first read leaves them in it.
    /// </remarks>
    public IReadOnlyList<Parameter> Parameters()
    {
        ThrowIfDisposed();
        return _parameters ??= _module.parameters().Where(p => p.requires_grad).ToList();
    }

    /// <summary>
    /// Forgets the cached <see cref="Parameters"/> list, so the next call lists the trainable parameters again (after
    /// parameters were frozen, unfrozen, added or removed). Optimizers built before keep the list they were given.
    /// </summary>
    protected internal void InvalidateParameters() => _parameters = null;

    /// <summary>Number of trainable scalars.</summary>
    public long ParameterCount => Parameters().Sum(p => p.numel());

    /// <summary>
    /// The options that rebuild this architecture, as JSON (stored in checkpoints, read back by
    /// <see cref="StudentFiles.Open"/>); null when the student cannot be rebuilt from data alone (it wraps code, such
    /// as a trunk).
    /// </summary>
    public virtual string? Configuration => null;

    /// <inheritdoc />
    public void SetTraining(bool training)
    {
        ThrowIfDisposed();
        _module.train(training);
    }

    /// <inheritdoc />
    public bool IsTraining => _module.training;

    /// <inheritdoc />
    public IStudent Clone()
    {
        ThrowIfDisposed();
        var copy = CreateSibling();
        try
        {
            // LoRA adapters are not part of the architecture CreateSibling builds: give the copy the same ones first.
            Adapters.Lora.Replicate(this, copy);
            copy.CopyFrom(this);
        }
        catch
        {
            copy.Dispose();
            throw;
        }
        return copy;
    }

    /// <summary>
    /// Copies every parameter and buffer of <paramref name="source"/> (same architecture) into this student; checks
    /// every name and shape before copying anything.
    /// </summary>
    /// <exception cref="ArgumentException">The two students have different architectures (nothing is copied).</exception>
    public void CopyFrom(TorchStudent source)
    {
        ArgumentNullException.ThrowIfNull(source);
        ThrowIfDisposed();
        source.ThrowIfDisposed();
        using var _ = no_grad();
        var target = _module.state_dict();
        var from = source._module.state_dict();
        foreach (var (key, value) in from)
        {
            if (!target.TryGetValue(key, out var t))
                throw new ArgumentException($"Cannot copy '{key}': this student has no such tensor (different architectures).", nameof(source));
            if (!t.shape.SequenceEqual(value.shape) || t.dtype != value.dtype)
                throw new ArgumentException($"Cannot copy '{key}': {value.dtype} [{string.Join(", ", value.shape)}] into {t.dtype} [{string.Join(", ", t.shape)}] (different architectures).", nameof(source));
        }
        var missing = target.Keys.Except(from.Keys).ToList();
        if (missing.Count > 0)
            throw new ArgumentException($"Cannot copy: the source lacks {string.Join(", ", missing.Take(5).Select(k => $"'{k}'"))} (different architectures).", nameof(source));
        foreach (var (key, value) in from) target[key].copy_(value);
    }

    /// <summary>
    /// Writes the student to <paramref name="path"/> as a checkpoint with the single section <c>student</c>,
    /// atomically (a unique temporary file, flushed, then renamed).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty or names a directory.</exception>
    public void Save(string path)
    {
        ThrowIfDisposed();
        ArgumentException.ThrowIfNullOrEmpty(path);
        Checkpoint.Save(path, new Dictionary<string, ICheckpointable> { [CheckpointSection] = this });
    }

    /// <summary>
    /// Reads the parameters and buffers of <paramref name="path"/> into this student, all or nothing: a checkpoint
    /// written by <see cref="Save"/> (or the <c>student</c> section of a training checkpoint), or a file written by
    /// TorchSharp's <c>Module.save</c>.
    /// </summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="CheckpointException">The file is damaged or holds another architecture; the student is unchanged.</exception>
    public void Load(string path)
    {
        ThrowIfDisposed();
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"No checkpoint at '{path}'.", path);
        if (Checkpoint.LooksLikeCheckpoint(path))
        {
            Checkpoint.Load(path, new Dictionary<string, ICheckpointable> { [CheckpointSection] = this });
            return;
        }
        // A TorchSharp state file: read into a fresh sibling first, so that a failure leaves this student untouched.
        using var sibling = CreateSibling();
        try
        {
            sibling._module.load(path, strict: true);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new CheckpointException(path, null, $"is neither a Superalign checkpoint nor a TorchSharp state file of this architecture ({Excerpt(e.Message)}).", e);
        }
        try
        {
            CopyFrom(sibling);
        }
        catch (ArgumentException e)
        {
            throw new CheckpointException(path, null, e.Message, e);
        }
    }

    /// <summary>The section a student's own file keeps it in.</summary>
    internal const string CheckpointSection = "student";

    /// <inheritdoc />
    public void SaveState(CheckpointWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ThrowIfDisposed();
        writer.Write("type", GetType().FullName ?? GetType().Name);
        if (Configuration is { } config) writer.Write("config", config);
        var state = writer.Section("state");
        foreach (var (key, value) in _module.state_dict()) state.Write(key, value);
    }

    /// <inheritdoc />
    public Action PrepareRestore(CheckpointReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ThrowIfDisposed();
        var target = _module.state_dict();
        var state = reader.Section("state");
        var stored = state.Keys;
        var missing = target.Keys.Except(stored, StringComparer.Ordinal).ToList();
        if (missing.Count > 0)
            throw state.Invalid(missing[0], $"missing: the checkpoint lacks {missing.Count} tensor(s) of this {GetType().Name} ({string.Join(", ", missing.Take(5))}); it was written by another architecture.");
        var extra = stored.Except(target.Keys, StringComparer.Ordinal).ToList();
        if (extra.Count > 0)
            throw state.Invalid(extra[0], $"unexpected: this {GetType().Name} has no tensor of that name ({extra.Count} such); the checkpoint was written by another architecture.");
        foreach (var (key, t) in target)
        {
            var (dtype, shape) = state.TensorInfo(key);
            if (dtype != t.dtype || !shape.SequenceEqual(t.shape))
                throw state.Invalid(key, $"expected {t.dtype} [{string.Join(", ", t.shape)}], the checkpoint holds {dtype} [{string.Join(", ", shape)}] (another architecture).");
        }
        // Everything fits: read the values now (outside any caller's dispose scope), copy them when applied.
        var values = target.Keys.ToDictionary(k => k, k => state.ReadTensor(k).DetachFromDisposeScope(), StringComparer.Ordinal);
        return () =>
        {
            using var _ = no_grad();
            foreach (var (key, value) in values)
            {
                target[key].copy_(value);
                value.Dispose();
            }
        };
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> once the student is disposed.</summary>
    protected void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private static string Excerpt(string s)
    {
        var line = s.Split('\n')[0];
        return line.Length > 200 ? line[..200] + "…" : line;
    }

    /// <summary>Disposes the module and its parameters.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (_disposed) return;
        if (disposing) _module.Dispose();
        _disposed = true;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }
}
