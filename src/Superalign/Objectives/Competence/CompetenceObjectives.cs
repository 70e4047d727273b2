namespace Superalign.Objectives.Competence;

/// <summary>Creates competence objectives by name (<c>ce</c>, <c>nll</c>, <c>xent</c>, <c>kl</c>, <c>product</c>, <c>logconf</c>, <c>entropy</c>).</summary>
public static class CompetenceObjectives
{
    /// <summary>The options as <see cref="Create"/> received them (null: not given).</summary>
    private sealed record Options(double? Alpha, double? Beta, double? LabelSmoothing, double? WarmupFraction, Hardening? Hardening);

    // The one table: name → (options it takes, factory). Names, Normalize, the option check and Create read it.
    // Option names are Create's parameter names.
    private static readonly ObjectiveTable<Options, ICompetenceObjective> s_table = new("competence",
    [
        new("ce", ["labelSmoothing"], o => new CrossEntropyObjective(o.LabelSmoothing ?? 0)),
        new("nll", [], _ => new TokenNllObjective()),
        new("xent", [], _ => new SoftCrossEntropyObjective()),
        new("kl", [], _ => new KlObjective()),
        new("product", ["alpha", "beta"], o => new ProductObjective(o.Alpha ?? 1, o.Beta ?? 1)),
        new("logconf", ["alpha", "warmupFraction", "hardening"],
            o => new LogConfidenceObjective(o.Alpha ?? 0.5, o.WarmupFraction ?? 0.2, o.Hardening ?? Hardening.Auto)),
        new("entropy", ["alpha"], o => new EntropyObjective(o.Alpha ?? 0.5)),
    ]);

    /// <summary>The names <see cref="Create"/> accepts.</summary>
    public static IReadOnlyList<string> Names => s_table.Names;

    /// <summary>
    /// The canonical name <see cref="Create"/> uses for <paramref name="name"/> (trimmed, lower case), or null when it
    /// names no objective.
    /// </summary>
    internal static string? Normalize(string? name) => s_table.Normalize(name);

    /// <summary>
    /// The objective called <paramref name="name"/> (case-insensitive). Options left null take the objective's
    /// defaults; an option the objective does not have is an error, so a typo cannot be silently ignored.
    /// </summary>
    /// <param name="name">One of <see cref="Names"/>.</param>
    /// <param name="alpha">α of <c>product</c> (default 1), <c>logconf</c> (0.5) or <c>entropy</c> (0.5).</param>
    /// <param name="beta">β of <c>product</c> (default 1).</param>
    /// <param name="labelSmoothing">Label smoothing of <c>ce</c> (default 0).</param>
    /// <param name="warmupFraction">Warm-up fraction of <c>logconf</c> (default 0.2).</param>
    /// <param name="hardening">Hardening of <c>logconf</c> (default <see cref="Hardening.Auto"/>).</param>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is null.</exception>
    /// <exception cref="ArgumentException">Unknown name (the message lists the valid ones), or an option the objective does not take.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option outside its range (the message names it and the range).</exception>
    public static ICompetenceObjective Create(
        string name,
        double? alpha = null,
        double? beta = null,
        double? labelSmoothing = null,
        double? warmupFraction = null,
        Hardening? hardening = null)
    {
        var given = ObjectiveTable<Options, ICompetenceObjective>.Given(
            (nameof(alpha), alpha is not null), (nameof(beta), beta is not null),
            (nameof(labelSmoothing), labelSmoothing is not null), (nameof(warmupFraction), warmupFraction is not null),
            (nameof(hardening), hardening is not null));
        return s_table.Create(name, given, new Options(alpha, beta, labelSmoothing, warmupFraction, hardening));
    }
}
