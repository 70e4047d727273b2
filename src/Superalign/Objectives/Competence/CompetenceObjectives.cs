namespace Superalign.Objectives.Competence;

/// <summary>Creates competence objectives by name (<c>ce</c>, <c>nll</c>, <c>xent</c>, <c>kl</c>, <c>product</c>, <c>logconf</c>, <c>entropy</c>).</summary>
public static class CompetenceObjectives
{
    /// <summary>The names <see cref="Create"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = ["ce", "nll", "xent", "kl", "product", "logconf", "entropy"];

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
        ArgumentNullException.ThrowIfNull(name);
        string key = name.Trim().ToLowerInvariant();
        var given = new (string Option, bool Set)[]
        {
            (nameof(alpha), alpha is not null), (nameof(beta), beta is not null),
            (nameof(labelSmoothing), labelSmoothing is not null), (nameof(warmupFraction), warmupFraction is not null),
            (nameof(hardening), hardening is not null),
        }.Where(o => o.Set).Select(o => o.Option);
        string[] accepted = key switch
        {
            "ce" => [nameof(labelSmoothing)],
            "product" => [nameof(alpha), nameof(beta)],
            "logconf" => [nameof(alpha), nameof(warmupFraction), nameof(hardening)],
            "entropy" => [nameof(alpha)],
            "nll" or "xent" or "kl" => [],
            _ => throw new ArgumentException(
                $"Unknown competence objective '{name}'. Valid names: {string.Join(", ", Names)}.", nameof(name)),
        };
        var unused = given.Except(accepted).ToArray();
        if (unused.Length > 0)
            throw new ArgumentException(
                $"The '{key}' objective does not take {string.Join(", ", unused)}; it takes {(accepted.Length == 0 ? "no options" : string.Join(", ", accepted))}.",
                unused[0]);

        return key switch
        {
            "ce" => new CrossEntropyObjective(labelSmoothing ?? 0),
            "nll" => new TokenNllObjective(),
            "xent" => new SoftCrossEntropyObjective(),
            "kl" => new KlObjective(),
            "product" => new ProductObjective(alpha ?? 1, beta ?? 1),
            "logconf" => new LogConfidenceObjective(alpha ?? 0.5, warmupFraction ?? 0.2, hardening ?? Hardening.Auto),
            _ => new EntropyObjective(alpha ?? 0.5),
        };
    }
}
