using System.Text.Json;
using Superalign.Checkpoints;
using static TorchSharp.torch;

namespace Superalign.Students;

/// <summary>
/// Rebuilds a student from its file alone: the type and <see cref="TorchStudent.Configuration"/> stored by
/// <see cref="TorchStudent.Save"/> (or in the <c>student</c> section of a training checkpoint) say what to construct,
/// then the weights are loaded. <see cref="MlpClassifier"/>, <see cref="TinyCausalLm"/> and <see cref="Pretrained.PretrainedCausalLm"/> are known; register your
/// own students with <see cref="Register"/>.
/// </summary>
public static class StudentFiles
{
    private static readonly Dictionary<string, Func<string, Device?, TorchStudent>> Factories = new(StringComparer.Ordinal)
    {
        [typeof(MlpClassifier).FullName!] = (json, device) => new MlpClassifier(Options<MlpClassifierOptions>(json), device),
        [typeof(TinyCausalLm).FullName!] = (json, device) => new TinyCausalLm(Options<TinyCausalLmOptions>(json), device),
        [typeof(Pretrained.PretrainedCausalLm).FullName!] = Pretrained.PretrainedCausalLm.FromConfiguration,
    };

    private static readonly object Gate = new();

    /// <summary>Makes students of type <typeparamref name="T"/> rebuildable from their configuration JSON.</summary>
    /// <param name="factory">Builds the student from its <see cref="TorchStudent.Configuration"/> on a device (null: the default).</param>
    public static void Register<T>(Func<string, Device?, T> factory) where T : TorchStudent
    {
        ArgumentNullException.ThrowIfNull(factory);
        lock (Gate) Factories[typeof(T).FullName!] = (json, device) => factory(json, device);
    }

    /// <summary>The student stored in <paramref name="path"/>, rebuilt and loaded, on <paramref name="device"/> (null: the default device).</summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="CheckpointException">
    /// The file is damaged, holds no student, or a student whose type is not registered or has no configuration.
    /// </exception>
    public static TorchStudent Open(string path, Device? device = null)
    {
        var reader = Checkpoint.Read(path);
        if (!reader.HasSection(TorchStudent.CheckpointSection))
            throw new CheckpointException(path, TorchStudent.CheckpointSection, "the checkpoint holds no student.");
        var section = reader.Section(TorchStudent.CheckpointSection);
        string type = section.ReadString("type");
        if (!section.Contains("config"))
            throw section.Invalid("config", $"a {type} stores no configuration (it wraps code, such as a trunk): construct it yourself and call Load.");
        Func<string, Device?, TorchStudent>? factory;
        lock (Gate) Factories.TryGetValue(type, out factory);
        if (factory is null)
            throw section.Invalid("type", $"no factory is registered for {type}: call StudentFiles.Register, or construct it yourself and call Load.");
        string json = section.ReadString("config");
        TorchStudent student;
        try
        {
            student = factory(json, device);
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            throw section.Invalid("config", $"does not build a {type}: {e.Message}");
        }
        try
        {
            student.PrepareRestore(section)();
            return student;
        }
        catch
        {
            student.Dispose();
            throw;
        }
    }

    private static T Options<T>(string json) =>
        JsonSerializer.Deserialize<T>(json) ?? throw new JsonException($"The configuration is null, not a {typeof(T).Name}.");
}
