namespace Superalign.Students.Adapters;

/// <summary>
/// What <see cref="Lora.Apply"/> attaches, in PEFT's <c>LoraConfig</c> vocabulary: rank <c>r</c>, <c>lora_alpha</c>,
/// <c>lora_dropout</c> and <c>target_modules</c>.
/// </summary>
public sealed class LoraOptions
{
    /// <summary>The rank <c>r</c> of every adapter (PEFT's default 8); at least 1.</summary>
    public int Rank { get; init; } = 8;

    /// <summary><c>lora_alpha</c>: updates are scaled by <c>Alpha / Rank</c> (PEFT's default 8); positive and finite.</summary>
    public double Alpha { get; init; } = 8;

    /// <summary><c>lora_dropout</c>: dropout probability on each adapter's input in training mode, in [0, 1).</summary>
    public double Dropout { get; init; }

    /// <summary>
    /// <c>target_modules</c>: the names of the projections to adapt, matched as PEFT matches a list: a module whose
    /// path (as in <c>named_modules()</c>) equals a target or ends with <c>"." + target</c> — e.g. <c>"q_proj"</c>,
    /// <c>"v_proj"</c>, or <c>"c_attn"</c> for GPT-2. Only <see cref="AdaptableLinear"/> modules can be adapted.
    /// </summary>
    public IReadOnlyList<string> TargetModules { get; init; } = ["q_proj", "v_proj"];

    /// <summary>Checks the options.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    public void Validate()
    {
        if (Rank < 1)
            throw new ArgumentOutOfRangeException(nameof(Rank), Rank, $"{nameof(Rank)} must be at least 1; got {Rank}.");
        if (!(Alpha > 0) || double.IsInfinity(Alpha))
            throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha, $"{nameof(Alpha)} must be positive and finite; got {Alpha}.");
        if (!(Dropout >= 0 && Dropout < 1))
            throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, $"{nameof(Dropout)} must be in [0, 1); got {Dropout}.");
        if (TargetModules is null || TargetModules.Count == 0)
            throw new ArgumentOutOfRangeException(nameof(TargetModules), "(none)", $"{nameof(TargetModules)} must name at least one module, e.g. \"q_proj\".");
        foreach (var target in TargetModules)
        {
            if (string.IsNullOrWhiteSpace(target) || target.StartsWith('.') || target.EndsWith('.') || target.Any(char.IsWhiteSpace))
                throw new ArgumentOutOfRangeException(nameof(TargetModules), target, $"{nameof(TargetModules)} holds '{target}', which is not a module name (non-empty, no spaces, no leading or trailing '.').");
        }
        if (TargetModules.Distinct(StringComparer.Ordinal).Count() != TargetModules.Count)
            throw new ArgumentOutOfRangeException(nameof(TargetModules), string.Join(", ", TargetModules), $"{nameof(TargetModules)} names a module twice.");
    }

    /// <summary>Whether the module at <paramref name="path"/> is a target (PEFT's rule for a list of names).</summary>
    public bool Matches(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        foreach (var target in TargetModules)
        {
            if (path == target || path.EndsWith("." + target, StringComparison.Ordinal)) return true;
        }
        return false;
    }
}
