using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Superalign.Students.Adapters;

/// <summary>
/// LoRA (Hu et al. 2021) as PEFT does it, on students whose projections are <see cref="AdaptableLinear"/>:
/// <see cref="Apply"/> attaches adapters to the target modules and freezes everything else; <see cref="Load"/> attaches
/// adapters saved in PEFT's layout (<c>adapter_config.json</c> + <c>adapter_model.safetensors</c>).
/// </summary>
public static class Lora
{
    /// <summary>The name of the adapter configuration file in an adapter directory.</summary>
    public const string ConfigFileName = "adapter_config.json";

    /// <summary>The name of the adapter weights file in an adapter directory.</summary>
    public const string WeightsFileName = "adapter_model.safetensors";

    /// <summary>The prefix PEFT gives every key of the weights file (its <c>PeftModel</c> → <c>LoraModel</c> wrapping).</summary>
    public const string KeyPrefix = "base_model.model.";

    /// <summary>
    /// Attaches a LoRA adapter to every <see cref="AdaptableLinear"/> of <paramref name="student"/> whose module path
    /// matches <see cref="LoraOptions.TargetModules"/> (in <c>named_modules()</c> order, <c>lora_A</c> drawn from one
    /// generator seeded by <paramref name="seed"/>; the global random stream is not touched), freezes every other
    /// parameter (<c>requires_grad = false</c>), so that <see cref="TorchStudent.Parameters"/> — what the optimizers
    /// train — lists the adapter parameters only. The adapted student starts equal to the base (<c>lora_B</c> = 0).
    /// </summary>
    /// <param name="student">The student to adapt; it must hold no adapter yet.</param>
    /// <param name="options">The adapter options (validated here).</param>
    /// <param name="seed">Seed of the <c>lora_A</c> initialisation.</param>
    /// <returns>The handle to disable, merge, save or remove the adapters.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="ArgumentException">No adaptable module matches the targets (the message lists the available names).</exception>
    /// <exception cref="InvalidOperationException">The student already holds adapters.</exception>
    public static LoraAdapters Apply(TorchStudent student, LoraOptions options, long seed)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var adaptable = Adaptable(student);
        if (adaptable.Any(m => m.Module.HasAdapter))
            throw new InvalidOperationException($"{student.Name} already holds LoRA adapters ({string.Join(", ", adaptable.Where(m => m.Module.HasAdapter).Select(m => m.Path).Take(5))}): remove them first.");
        var targets = adaptable.Where(m => options.Matches(m.Path)).ToList();
        if (targets.Count == 0)
        {
            var names = adaptable.Select(m => m.Path).ToList();
            throw new ArgumentException(
                $"No adaptable module of {student.Name} matches the LoRA targets [{string.Join(", ", options.TargetModules.Select(t => $"\"{t}\""))}]. " +
                (names.Count == 0
                    ? "The student has no AdaptableLinear module at all (LoRA attaches to AdaptableLinear projections only)."
                    : $"Adaptable modules: {string.Join(", ", names.Take(20))}{(names.Count > 20 ? $", … ({names.Count} in all)" : "")}."),
                nameof(options));
        }
        var frozen = Freeze(student, targets, () =>
        {
            using var saved = random.get_rng_state();
            using var generator = new Generator(unchecked((ulong)seed), CPU);
            try
            {
                foreach (var (_, module) in targets) module.AttachLora(options.Rank, options.Alpha, options.Dropout, generator);
            }
            finally
            {
                random.set_rng_state(saved);
            }
        });
        return new LoraAdapters(student, options, targets, frozen);
    }

    /// <summary>
    /// Attaches the adapter saved in <paramref name="directory"/> (PEFT's layout: <see cref="ConfigFileName"/> and
    /// <see cref="WeightsFileName"/>) to <paramref name="student"/>, as <see cref="Apply"/> does with the saved options,
    /// and reads its weights. All or nothing: on failure the student is left without adapters and unfrozen as before.
    /// </summary>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    /// <exception cref="InvalidDataException">A file is malformed, describes something other than a plain LoRA adapter, or does not fit the student.</exception>
    public static LoraAdapters Load(TorchStudent student, string directory)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var config = LoraConfigFile.Read(Path.Combine(directory, ConfigFileName));
        var adapters = Apply(student, config.Options, seed: 0);
        try
        {
            adapters.LoadWeights(directory);
        }
        catch
        {
            adapters.Remove();
            throw;
        }
        return adapters;
    }

    /// <summary>Every <see cref="AdaptableLinear"/> of the student with its path, in <c>named_modules()</c> order.</summary>
    internal static List<(string Path, AdaptableLinear Module)> Adaptable(TorchStudent student) =>
        student.Module.named_modules()
            .Where(m => m.module is AdaptableLinear)
            .Select(m => (m.name, (AdaptableLinear)m.module))
            .ToList();

    /// <summary>
    /// Runs <paramref name="attach"/>, then freezes every parameter that is not an adapter factor of
    /// <paramref name="targets"/>; returns the parameters it froze (to unfreeze on removal). Nothing is changed when
    /// <paramref name="attach"/> throws.
    /// </summary>
    private static List<Parameter> Freeze(TorchStudent student, List<(string Path, AdaptableLinear Module)> targets, Action attach)
    {
        try
        {
            attach();
        }
        catch
        {
            foreach (var (_, module) in targets) module.DetachLora();
            throw;
        }
        var adapter = new HashSet<IntPtr>(targets.SelectMany(t => new[] { t.Module.LoraA!.Handle, t.Module.LoraB!.Handle }));
        var frozen = new List<Parameter>();
        foreach (var p in student.Module.parameters())
        {
            if (adapter.Contains(p.Handle) || !p.requires_grad) continue;
            p.requires_grad = false;
            frozen.Add(p);
        }
        student.InvalidateParameters();
        return frozen;
    }

    /// <summary>
    /// Gives <paramref name="target"/> (a fresh sibling of <paramref name="source"/>) the adapters
    /// <paramref name="source"/> holds — same modules, rank, alpha, dropout, enabled and merged state, with zero factors
    /// for the caller to copy — and the same frozen parameters. Does nothing when <paramref name="source"/> holds none.
    /// </summary>
    internal static void Replicate(TorchStudent source, TorchStudent target)
    {
        var adapted = Adaptable(source).Where(m => m.Module.HasAdapter).ToList();
        if (adapted.Count == 0) return;
        var into = Adaptable(target).ToDictionary(m => m.Path, m => m.Module, StringComparer.Ordinal);
        foreach (var (path, module) in adapted)
        {
            if (!into.TryGetValue(path, out var copy))
                throw new ArgumentException($"Cannot copy the LoRA adapter of '{path}': the copy has no such adaptable module (different architectures).", nameof(target));
            if (!copy.HasAdapter) copy.AttachLoraUninitialised(module.LoraRank, module.LoraAlpha, module.LoraDropout);
            copy.MarkMerged(module.IsMerged);
            copy.AdapterEnabled = module.AdapterEnabled;
        }
        var trainable = source.Module.named_parameters().ToDictionary(p => p.name, p => p.parameter.requires_grad, StringComparer.Ordinal);
        foreach (var (name, p) in target.Module.named_parameters())
        {
            if (trainable.TryGetValue(name, out var requiresGrad)) p.requires_grad = requiresGrad;
        }
        target.InvalidateParameters();
    }

    /// <summary>
    /// Disables every adapter of <paramref name="student"/> until the returned scope is disposed, which restores each
    /// one's previous state: the student then computes exactly what its base model computes. Nests.
    /// </summary>
    /// <exception cref="InvalidOperationException">An adapter is merged (unmerge it first).</exception>
    public static IDisposable DisableAdapters(TorchStudent student)
    {
        ArgumentNullException.ThrowIfNull(student);
        return new DisabledScope(Adaptable(student).Where(m => m.Module.HasAdapter).Select(m => m.Module).ToList());
    }

    /// <summary>Whether <paramref name="student"/> holds at least one LoRA adapter.</summary>
    public static bool HasAdapters(TorchStudent student)
    {
        ArgumentNullException.ThrowIfNull(student);
        return Adaptable(student).Any(m => m.Module.HasAdapter);
    }

    private sealed class DisabledScope : IDisposable
    {
        private readonly List<(AdaptableLinear Module, bool Enabled)> _previous;
        private bool _disposed;

        public DisabledScope(List<AdaptableLinear> modules)
        {
            var merged = modules.FirstOrDefault(m => m.IsMerged);
            if (merged is not null)
                throw new InvalidOperationException("A LoRA adapter is merged into its weight: unmerge the adapters before disabling them.");
            _previous = modules.Select(m => (m, m.AdapterEnabled)).ToList();
            foreach (var m in modules) m.AdapterEnabled = false;
        }

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var (module, enabled) in _previous) module.AdapterEnabled = enabled;
        }
    }
}
