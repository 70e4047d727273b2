using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Superalign.Students;

/// <summary>
/// Base class for students backed by one TorchSharp module: parameters, training mode, cloning, saving and loading.
/// Derive from it to plug a custom model into the optimizers; implement <see cref="Logits"/> and
/// <see cref="CreateSibling"/>.
/// </summary>
public abstract class TorchStudent : IStudent
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
    public IReadOnlyList<Parameter> Parameters() => _parameters ??= _module.parameters().ToList();

    /// <summary>Number of trainable scalars.</summary>
    public long ParameterCount => Parameters().Sum(p => p.numel());

    /// <inheritdoc />
    public void SetTraining(bool training) => _module.train(training);

    /// <inheritdoc />
    public bool IsTraining => _module.training;

    /// <inheritdoc />
    public IStudent Clone()
    {
        var copy = CreateSibling();
        copy.CopyFrom(this);
        return copy;
    }

    /// <summary>Copies every parameter and buffer of <paramref name="source"/> (same architecture) into this student.</summary>
    public void CopyFrom(TorchStudent source)
    {
        ArgumentNullException.ThrowIfNull(source);
        using var _ = no_grad();
        var target = _module.state_dict();
        foreach (var (key, value) in source._module.state_dict())
        {
            if (!target.TryGetValue(key, out var t) || !t.shape.SequenceEqual(value.shape))
                throw new ArgumentException($"Cannot copy '{key}': the two students have different architectures.", nameof(source));
            t.copy_(value);
        }
    }

    /// <inheritdoc />
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        // Write next to the target, then rename: an interrupted save never leaves a truncated checkpoint behind.
        string temp = path + ".tmp";
        _module.save(temp);
        File.Move(temp, path, overwrite: true);
    }

    /// <inheritdoc />
    public void Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"No checkpoint at '{path}'.", path);
        _module.load(path, strict: true);
        _module.to(Device);
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
