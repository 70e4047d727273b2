using System.Collections.ObjectModel;

namespace Superalign.Objectives;

/// <summary>
/// One objective family's name table: each name with the options it accepts and the factory that builds the objective
/// from them, plus aliases. The family's <c>Names</c>, <c>Normalize</c>, its "option not used" check and <c>Create</c>
/// all read this one table, so they cannot drift apart.
/// </summary>
/// <typeparam name="TOptions">The family's bundle of option values, as the caller gave them.</typeparam>
/// <typeparam name="TObjective">The objective interface of the family.</typeparam>
internal sealed class ObjectiveTable<TOptions, TObjective>
{
    /// <summary>One row: a canonical name (lower case), the option names it accepts, and its factory.</summary>
    /// <param name="Name">The canonical name, lower case.</param>
    /// <param name="Options">The names of the options (the <c>Create</c> parameter names) this objective takes.</param>
    /// <param name="Create">Builds the objective from the options; options it does not take are never set here.</param>
    internal sealed record Entry(string Name, IReadOnlyList<string> Options, Func<TOptions, TObjective> Create);

    private readonly string _family;
    private readonly Dictionary<string, Entry> _byKey = new(StringComparer.Ordinal); // canonical names and aliases
    private readonly KeyValuePair<string, string>[] _aliases;

    /// <summary>Builds the table; a malformed table (repeated, non-canonical or dangling names) is a programming error.</summary>
    /// <param name="family">The family's name for messages (<c>competence</c>, <c>conformity</c>).</param>
    /// <param name="entries">The rows, in the order <see cref="Names"/> lists them.</param>
    /// <param name="aliases">Alias → canonical name, e.g. TRL's <c>aot_pair</c> → <c>aot_unpaired</c>.</param>
    public ObjectiveTable(string family, IReadOnlyList<Entry> entries, IReadOnlyDictionary<string, string>? aliases = null)
    {
        _family = family;
        foreach (Entry entry in entries)
        {
            if (entry.Name != Canonical(entry.Name) || !_byKey.TryAdd(entry.Name, entry))
                throw new InvalidOperationException($"The {family} objective table repeats or mis-spells '{entry.Name}'.");
            if (entry.Options.Distinct().Count() != entry.Options.Count)
                throw new InvalidOperationException($"The {family} objective '{entry.Name}' lists an option twice.");
        }
        _aliases = [.. aliases ?? new Dictionary<string, string>()];
        foreach ((string alias, string target) in _aliases)
        {
            if (alias != Canonical(alias) || !_byKey.TryGetValue(target, out Entry? entry) || !_byKey.TryAdd(alias, entry))
                throw new InvalidOperationException($"The {family} objective alias '{alias}' → '{target}' is malformed.");
        }
        Names = new ReadOnlyCollection<string>([.. entries.Select(e => e.Name)]);
    }

    /// <summary>The canonical names, in table order (aliases excluded).</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>The canonical name of <paramref name="name"/> (trimmed, any case, aliases mapped), or null when it names no objective.</summary>
    public string? Normalize(string? name) =>
        name is not null && _byKey.TryGetValue(Canonical(name), out Entry? entry) ? entry.Name : null;

    /// <summary>
    /// Creates the objective called <paramref name="name"/> from <paramref name="options"/>, after checking that every
    /// option in <paramref name="given"/> is one the objective takes.
    /// </summary>
    /// <param name="name">The caller's name (any case, surrounding spaces, aliases).</param>
    /// <param name="given">The options the caller set, as <c>Create</c> parameter names, in parameter order; the first one
    /// the objective does not take is the exception's parameter name.</param>
    /// <param name="options">The option values passed to the factory.</param>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is null.</exception>
    /// <exception cref="ArgumentException">Unknown name (parameter <c>name</c>; the message lists the valid names), or an
    /// option given that the objective does not take (parameter: that option; the message lists the accepted ones).</exception>
    public TObjective Create(string name, IEnumerable<string> given, TOptions options)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!_byKey.TryGetValue(Canonical(name), out Entry? entry))
        {
            string aliases = _aliases.Length == 0
                ? ""
                : $" (and {string.Join(", ", _aliases.Select(a => $"'{a.Key}' for {a.Value}"))})";
            throw new ArgumentException(
                $"Unknown {_family} objective '{name}'. Valid names: {string.Join(", ", Names)}{aliases}.", nameof(name));
        }

        string[] unused = [.. given.Where(o => !entry.Options.Contains(o))];
        if (unused.Length > 0)
        {
            string takes = entry.Options.Count == 0 ? "no options" : string.Join(", ", entry.Options);
            string[] users = [.. Names.Where(n => _byKey[n].Options.Contains(unused[0]))];
            string usedBy = users.Length == 0 ? "" : $" ({unused[0]} applies to {string.Join(", ", users)})";
            throw new ArgumentException(
                $"The {_family} objective '{entry.Name}' does not take {string.Join(", ", unused)}; it takes {takes}{usedBy}.",
                unused[0]);
        }
        return entry.Create(options);
    }

    /// <summary>The names of the options whose flag is set, in the order given.</summary>
    public static IEnumerable<string> Given(params (string Option, bool Set)[] options) =>
        options.Where(o => o.Set).Select(o => o.Option);

    private static string Canonical(string name) => name.Trim().ToLowerInvariant();
}
