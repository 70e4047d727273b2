namespace Superalign.Objectives.Conformity;

/// <summary>
/// Creates conformity objectives by TRL loss-type name (<c>sigmoid</c>, <c>ipo</c>, <c>simpo</c>, …), for
/// configuration files and command lines. The classes (<see cref="SigmoidObjective"/>, …) can also be constructed
/// directly.
/// </summary>
public static class ConformityObjectives
{
    private static readonly string[] s_names =
    [
        "sigmoid", "hinge", "ipo", "robust", "exo_pair", "nca_pair", "bco_pair", "sppo_hard", "aot", "aot_unpaired",
        "apo_zero", "apo_down", "discopop", "simpo", "cpo", "orpo",
    ];

    /// <summary>
    /// The names <see cref="Create"/> accepts, in a fixed order: the DPO family (which needs a reference policy), then
    /// the reference-free objectives. <see cref="Create"/> also accepts TRL's <c>aot_pair</c> as an alias of
    /// <c>aot_unpaired</c>.
    /// </summary>
    public static IReadOnlyList<string> Names { get; } = Array.AsReadOnly(s_names);

    /// <summary>
    /// The canonical name <see cref="Create"/> uses for <paramref name="name"/> (trimmed, lower case, TRL's alias
    /// <c>aot_pair</c> mapped), or null when it names no objective.
    /// </summary>
    internal static string? Normalize(string? name)
    {
        if (name is null) return null;
        string key = name.Trim().ToLowerInvariant();
        if (key == "aot_pair") key = "aot_unpaired";
        return Array.IndexOf(s_names, key) < 0 ? null : key;
    }

    /// <summary>
    /// Creates the objective called <paramref name="name"/> (case-insensitive). A parameter the objective does not
    /// use must be left at its default; an unset one takes the objective's own default.
    /// </summary>
    /// <param name="name">A name from <see cref="Names"/> (or <c>aot_pair</c>).</param>
    /// <param name="beta">β; default 0.1 for every objective except <c>simpo</c> (2.0). For <c>orpo</c>, TRL's name for λ:
    /// used as λ when <paramref name="lambda"/> is not given.</param>
    /// <param name="labelSmoothing">TRL's <c>label_smoothing</c> ε: cDPO smoothing for <c>sigmoid</c>, <c>aot</c>,
    /// <c>aot_unpaired</c>, <c>simpo</c> and <c>cpo</c> (in [0, 0.5]); the flip rate of <c>robust</c> (in [0, 0.5));
    /// the target smoothing of <c>exo_pair</c> (in (0, 1); 0 means TRL's default 1e-3).</param>
    /// <param name="gamma">SimPO's target margin γ (default 0.5).</param>
    /// <param name="alpha">CPO's NLL weight α (default 1.0).</param>
    /// <param name="lambda">ORPO's odds-ratio weight λ (default 0.1).</param>
    /// <param name="tau">DiscoPOP's temperature τ (default 0.05).</param>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is null.</exception>
    /// <exception cref="ArgumentException">The name is unknown (the message lists the valid names), or a parameter
    /// is given that the objective does not use.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A parameter is outside its range.</exception>
    public static IConformityObjective Create(
        string name,
        double? beta = null,
        double labelSmoothing = 0,
        double? gamma = null,
        double? alpha = null,
        double? lambda = null,
        double? tau = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        string? key = Normalize(name);
        if (key is null)
            throw new ArgumentException($"Unknown conformity objective '{name}'. Valid names: {string.Join(", ", s_names)} (and 'aot_pair', TRL's name for aot_unpaired).", nameof(name));

        NotUsed(key, nameof(labelSmoothing), labelSmoothing != 0, "sigmoid", "robust", "exo_pair", "aot", "aot_unpaired", "simpo", "cpo");
        NotUsed(key, nameof(gamma), gamma is not null, "simpo");
        NotUsed(key, nameof(alpha), alpha is not null, "cpo");
        NotUsed(key, nameof(lambda), lambda is not null, "orpo");
        NotUsed(key, nameof(tau), tau is not null, "discopop");

        double b = beta ?? 0.1;
        return key switch
        {
            "sigmoid" => new SigmoidObjective(b, labelSmoothing),
            "hinge" => new HingeObjective(b),
            "ipo" => new IpoObjective(b),
            "robust" => new RobustObjective(b, labelSmoothing),
            "exo_pair" => new ExoPairObjective(b, ExoEpsilon(labelSmoothing)),
            "nca_pair" => new NcaPairObjective(b),
            "bco_pair" => new BcoPairObjective(b),
            "sppo_hard" => new SppoHardObjective(b),
            "aot" => new AotObjective(b, labelSmoothing),
            "aot_unpaired" => new AotUnpairedObjective(b, labelSmoothing),
            "apo_zero" => new ApoZeroObjective(b),
            "apo_down" => new ApoDownObjective(b),
            "discopop" => new DiscopopObjective(b, tau ?? 0.05),
            "simpo" => new SimpoObjective(beta ?? 2.0, gamma ?? 0.5, labelSmoothing),
            "cpo" => new CpoObjective(b, alpha ?? 1.0, labelSmoothing),
            "orpo" => Orpo(beta, lambda),
            _ => throw new InvalidOperationException($"No factory entry for '{key}'."),
        };
    }

    private static double ExoEpsilon(double labelSmoothing) => labelSmoothing switch
    {
        0 => 1e-3, // TRL's default when label_smoothing is left at 0
        > 0 and < 1 => labelSmoothing,
        _ => throw ConformityMath.OutOfRange(nameof(labelSmoothing), labelSmoothing, "in (0, 1) for exo_pair (0 selects 1e-3)"),
    };

    private static OrpoObjective Orpo(double? beta, double? lambda)
    {
        if (beta is { } b && lambda is { } l && b != l)
            throw new ArgumentException($"orpo has one strength, λ (TRL calls it beta); got beta = {b} and lambda = {l}. Give one of them.", nameof(lambda));
        if (lambda is not null) return new OrpoObjective(lambda.Value);
        // Validate under the name the caller used.
        if (beta is { } given) ConformityMath.Positive(given, nameof(beta));
        return new OrpoObjective(beta ?? 0.1);
    }

    private static void NotUsed(string key, string parameter, bool given, params string[] users)
    {
        if (given && Array.IndexOf(users, key) < 0)
            throw new ArgumentException($"The conformity objective '{key}' does not use {parameter}; it applies to {string.Join(", ", users)}.", parameter);
    }
}
