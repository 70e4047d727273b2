using Superalign.Students.Pretrained;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Superalign.Students.Adapters;

/// <summary>
/// The LoRA adapters <see cref="Lora.Apply"/> attached to a student: their parameters, a scope that switches them off
/// (the base model — DPO's reference without a second copy), merging, saving in PEFT's layout and removal.
/// </summary>
/// <remarks>
/// The adapters live in the student's module: they go with it into its checkpoints (<see cref="TorchStudent.Save"/>
/// then needs a student with the same adapters to load into) and into its clones (<see cref="TorchStudent.Clone"/>).
/// Save the adapters alone with <see cref="Save"/>.
/// </remarks>
public sealed class LoraAdapters
{
    private readonly List<(string Path, AdaptableLinear Module)> _modules;
    private readonly List<Parameter> _frozen;
    private bool _removed;

    internal LoraAdapters(TorchStudent student, LoraOptions options, List<(string Path, AdaptableLinear Module)> modules, List<Parameter> frozen)
    {
        Student = student;
        Options = options;
        _modules = modules;
        _frozen = frozen;
    }

    /// <summary>The adapted student.</summary>
    public TorchStudent Student { get; }

    /// <summary>The options the adapters were attached with.</summary>
    public LoraOptions Options { get; }

    /// <summary>The adapted modules' paths (as in <c>named_modules()</c>), in order.</summary>
    public IReadOnlyList<string> ModuleNames => _modules.Select(m => m.Path).ToList();

    /// <summary>Whether the adapted projections store their weights <c>[in, out]</c> (GPT-2 Conv1D); null when they differ.</summary>
    public bool? FanInFanOut
    {
        get
        {
            var kinds = _modules.Select(m => m.Module.FanInFanOut).Distinct().ToList();
            return kinds.Count == 1 ? kinds[0] : null;
        }
    }

    /// <summary>The adapter parameters (<c>lora_A</c> then <c>lora_B</c> of each module, in module order).</summary>
    public IReadOnlyList<Parameter> Parameters()
    {
        ThrowIfRemoved();
        return _modules.SelectMany(m => new[] { m.Module.LoraA!, m.Module.LoraB! }).ToList();
    }

    /// <summary>Number of adapter scalars.</summary>
    public long ParameterCount => Parameters().Sum(p => p.numel());

    /// <summary>Whether the adapters are merged into the base weights (<see cref="Merge"/>).</summary>
    public bool IsMerged => !_removed && _modules.Any(m => m.Module.IsMerged);

    /// <summary>
    /// Switches the adapters off until the returned scope is disposed: meanwhile the student computes its base model's
    /// outputs bit for bit. Scopes nest; disposing one restores the states it found.
    /// </summary>
    /// <exception cref="InvalidOperationException">The adapters are merged (unmerge first) or were removed.</exception>
    public IDisposable DisableAdapters()
    {
        ThrowIfRemoved();
        return Lora.DisableAdapters(Student);
    }

    /// <summary>
    /// Merges every adapter into its base weight (<c>W += (alpha / r)·B·A</c>, transposed for fan-in-fan-out): the
    /// forward then costs what the base costs. Train only unmerged adapters; <see cref="Unmerge"/> restores the base
    /// weights up to rounding.
    /// </summary>
    public void Merge()
    {
        ThrowIfRemoved();
        foreach (var (_, module) in _modules) module.MergeLora();
    }

    /// <summary>Subtracts the merged updates from the base weights again.</summary>
    public void Unmerge()
    {
        ThrowIfRemoved();
        foreach (var (_, module) in _modules) module.UnmergeLora();
    }

    /// <summary>
    /// The adapter tensors under PEFT's keys, <c>base_model.model.&lt;module path&gt;.lora_A.weight</c> <c>[r, in]</c>
    /// and <c>….lora_B.weight</c> <c>[out, r]</c> (the live parameters, not copies).
    /// </summary>
    public IReadOnlyList<(string Key, Parameter Value)> PeftStateDict()
    {
        ThrowIfRemoved();
        return _modules.SelectMany(m => new[]
        {
            ($"{Lora.KeyPrefix}{m.Path}.lora_A.weight", m.Module.LoraA!),
            ($"{Lora.KeyPrefix}{m.Path}.lora_B.weight", m.Module.LoraB!),
        }).ToList();
    }

    /// <summary>
    /// Writes the adapters alone into <paramref name="directory"/> (created when missing) in PEFT's layout:
    /// <see cref="Lora.ConfigFileName"/> (<c>peft_type</c> "LORA", <c>r</c>, <c>lora_alpha</c>, <c>lora_dropout</c>,
    /// <c>target_modules</c>, <c>fan_in_fan_out</c>, <c>bias</c> "none", <c>task_type</c> "CAUSAL_LM",
    /// <c>base_model_name_or_path</c>) and <see cref="Lora.WeightsFileName"/> (float32).
    /// </summary>
    /// <param name="directory">The adapter directory.</param>
    /// <param name="baseModelNameOrPath">The base model's name or path, recorded for PEFT; null when unknown.</param>
    /// <exception cref="NotSupportedException">The adapted modules mix weight layouts (PEFT's config has one <c>fan_in_fan_out</c>).</exception>
    public void Save(string directory, string? baseModelNameOrPath = null)
    {
        ThrowIfRemoved();
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var fanInFanOut = FanInFanOut ?? throw new NotSupportedException("The adapted modules mix Linear and Conv1D weight layouts; PEFT's adapter_config.json has a single fan_in_fan_out.");
        Directory.CreateDirectory(directory);
        Safetensors.Save(Path.Combine(directory, Lora.WeightsFileName),
            PeftStateDict().Select(e => KeyValuePair.Create(e.Key, (Tensor)e.Value)));
        LoraConfigFile.Write(Path.Combine(directory, Lora.ConfigFileName), Options, fanInFanOut, baseModelNameOrPath);
    }

    /// <summary>
    /// Reads the adapter weights saved in <paramref name="directory"/> into these adapters, all or nothing: the file's
    /// keys must be exactly <see cref="PeftStateDict"/>'s, with the same shapes, and its configuration must have the
    /// same rank and alpha.
    /// </summary>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    /// <exception cref="InvalidDataException">The files do not fit these adapters (nothing is changed).</exception>
    /// <exception cref="Checkpoints.CheckpointException">The weights file is not a well-formed safetensors file (it names the file and tensor).</exception>
    public void LoadWeights(string directory)
    {
        ThrowIfRemoved();
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var config = LoraConfigFile.Read(Path.Combine(directory, Lora.ConfigFileName));
        if (config.Options.Rank != Options.Rank || config.Options.Alpha != Options.Alpha)
            throw new InvalidDataException($"The adapter in '{directory}' has r = {config.Options.Rank}, lora_alpha = {config.Options.Alpha}; these adapters have r = {Options.Rank}, lora_alpha = {Options.Alpha}.");
        if (IsMerged) throw new InvalidOperationException("The adapters are merged: unmerge them before loading weights into them.");
        var weightsPath = Path.Combine(directory, Lora.WeightsFileName);
        if (!File.Exists(weightsPath)) throw new FileNotFoundException($"No adapter weights at '{weightsPath}'.", weightsPath);
        var stored = Safetensors.Load(weightsPath);
        try
        {
            var expected = PeftStateDict();
            var missing = expected.Select(e => e.Key).Where(k => !stored.ContainsKey(k)).ToList();
            if (missing.Count > 0)
                throw new InvalidDataException($"'{weightsPath}' lacks {missing.Count} adapter tensor(s) of this student ({string.Join(", ", missing.Take(5))}).");
            var extra = stored.Keys.Except(expected.Select(e => e.Key), StringComparer.Ordinal).ToList();
            if (extra.Count > 0)
                throw new InvalidDataException($"'{weightsPath}' holds {extra.Count} tensor(s) this student has no adapter for ({string.Join(", ", extra.Take(5))}).");
            foreach (var (key, value) in expected)
            {
                if (!stored[key].shape.SequenceEqual(value.shape))
                    throw new InvalidDataException($"'{weightsPath}': '{key}' is [{string.Join(", ", stored[key].shape)}]; this student's is [{string.Join(", ", value.shape)}].");
            }
            using var _ = no_grad();
            foreach (var (key, value) in expected) value.copy_(stored[key]);
        }
        finally
        {
            foreach (var t in stored.Values) t.Dispose();
        }
    }

    /// <summary>
    /// Removes the adapters (unmerging them first) and unfreezes the parameters <see cref="Lora.Apply"/> froze: the
    /// student is its base model again. The handle is unusable afterwards.
    /// </summary>
    public void Remove()
    {
        if (_removed) return;
        foreach (var (_, module) in _modules) module.DetachLora();
        foreach (var p in _frozen) p.requires_grad = true;
        Student.InvalidateParameters();
        _removed = true;
    }

    private void ThrowIfRemoved()
    {
        if (_removed) throw new InvalidOperationException("These LoRA adapters were removed.");
    }
}
