using Microsoft.Extensions.Logging;

namespace Superalign.Experiments.Protocols;

/// <summary>One protocol of <see cref="ProtocolCatalog"/>: its name, what it measures, and how to make it from options.</summary>
public sealed class ProtocolEntry
{
    private readonly Func<IProtocolOptions?, ILoggerFactory?, IProtocol> _create;
    private readonly Func<IProtocolOptions> _defaults;

    private ProtocolEntry(string name, string summary, Type optionsType, Type resultType, Func<IProtocolOptions> defaults,
        Func<IProtocolOptions?, ILoggerFactory?, IProtocol> create)
    {
        Name = name;
        Summary = summary;
        OptionsType = optionsType;
        ResultType = resultType;
        _defaults = defaults;
        _create = create;
    }

    /// <summary>An entry for a protocol whose constructor takes its options (null = defaults) and a logger factory.</summary>
    /// <param name="name">The protocol's name.</param>
    /// <param name="summary">One sentence: what it measures.</param>
    /// <param name="create">The protocol's constructor.</param>
    public static ProtocolEntry For<TOptions, TResult>(string name, string summary, Func<TOptions?, ILoggerFactory?, IProtocol<TOptions, TResult>> create)
        where TOptions : class, IProtocolOptions, new()
        where TResult : IProtocolResult
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(create);
        return new ProtocolEntry(name, summary, typeof(TOptions), typeof(TResult), () => new TOptions(),
            (options, loggerFactory) => create(options switch
            {
                null => null,
                TOptions typed => typed,
                _ => throw new ArgumentException($"The protocol '{name}' takes {typeof(TOptions).Name}; got {options.GetType().Name}.", nameof(options)),
            }, loggerFactory));
    }

    /// <summary>The protocol's name (e.g. <c>weak-to-strong</c>).</summary>
    public string Name { get; }

    /// <summary>What the protocol measures, in one sentence.</summary>
    public string Summary { get; }

    /// <summary>The type of its options.</summary>
    public Type OptionsType { get; }

    /// <summary>The type of its result.</summary>
    public Type ResultType { get; }

    /// <summary>The default options.</summary>
    public IProtocolOptions DefaultOptions() => _defaults();

    /// <summary>Options read from JSON as <see cref="ProtocolJson"/> writes them (properties left out keep their defaults).</summary>
    /// <exception cref="System.Text.Json.JsonException">The text is not valid JSON for the options.</exception>
    public IProtocolOptions ReadOptions(string json) => (IProtocolOptions)ProtocolJson.Deserialize(json, OptionsType);

    /// <summary>The protocol with <paramref name="options"/> (null = defaults), validated.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    public IProtocol Create(IProtocolOptions? options = null, ILoggerFactory? loggerFactory = null) => _create(options, loggerFactory);
}

/// <summary>Every protocol of the library by name, for front ends that list and run them.</summary>
public static class ProtocolCatalog
{
    /// <summary>The protocols, in the order a listing shows them.</summary>
    public static IReadOnlyList<ProtocolEntry> All { get; } =
    [
        ProtocolEntry.For<WeakToStrongOptions, WeakToStrongResult>(WeakToStrong.ProtocolName,
            "Weak-to-strong generalization (Burns et al. 2023): PGR of strong students trained on weak supervisors' labels.",
            (o, l) => new WeakToStrong(o, l)),
        ProtocolEntry.For<CoOptimizationOptions, CoOptimizationResult>(CoOptimizationComparison.ProtocolName,
            "Competence-conformity co-optimization: training schedules compared on held-out competence and conformity.",
            (o, l) => new CoOptimizationComparison(o, l)),
        ProtocolEntry.For<AlignmentTaxOptions, AlignmentTaxResult>(AlignmentTax.ProtocolName,
            "The alignment tax: competence lost by preference training from a converged SFT model, by order, mixing ratio, objective and pair source.",
            (o, l) => new AlignmentTax(o, l)),
        ProtocolEntry.For<SelfEnhancementOptions, SelfEnhancementResult>(SelfEnhancement.ProtocolName,
            "Self-enhancement: rounds of AI feedback from the policy itself, a peer or the oracle, trained with a preference loss.",
            (o, l) => new SelfEnhancement(o, l)),
        ProtocolEntry.For<SandwichingOptions, SandwichingResult>(Sandwiching.ProtocolName,
            "Sandwiching: a weak judge alone, with a consultant, and after a debate between strong models.",
            (o, l) => new Sandwiching(o, l)),
        ProtocolEntry.For<GapAnnealingOptions, GapAnnealingResult>(GapAnnealing.ProtocolName,
            "Gap annealing: teacher-student rounds up a ladder of sizes against direct weak-to-strong at the same budget.",
            (o, l) => new GapAnnealing(o, l)),
        ProtocolEntry.For<DiversifiedSupervisionOptions, DiversifiedSupervisionResult>(DiversifiedSupervision.ProtocolName,
            "Diversified supervision: one weak supervisor against ensembles of diverse ones and easy-to-hard curricula.",
            (o, l) => new DiversifiedSupervision(o, l)),
    ];

    /// <summary>The entry called <paramref name="name"/> (case-insensitive, trimmed).</summary>
    /// <exception cref="ArgumentException">No protocol has that name; the message lists the names.</exception>
    public static ProtocolEntry Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return All.FirstOrDefault(e => e.Name.Equals(name.Trim(), StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException($"Unknown protocol '{name}'. Protocols: {string.Join(", ", All.Select(e => e.Name))}.", nameof(name));
    }
}
