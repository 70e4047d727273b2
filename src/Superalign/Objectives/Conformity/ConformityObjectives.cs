namespace Superalign.Objectives.Conformity;

/// <summary>
/// Creates conformity objectives by TRL loss-type name (<c>sigmoid</c>, <c>ipo</c>, <c>simpo</c>, …), for
/// configuration files and command lines. The classes (<see cref="SigmoidObjective"/>, …) can also be constructed
/// directly.
/// </summary>
public static class ConformityObjectives
{
    /// <summary>The options as <see cref="Create"/> received them (null, or 0 for <see cref="LabelSmoothing"/>: not given).</summary>
    private sealed record Options(double? Beta, double LabelSmoothing, double? Gamma, double? Alpha, double? Lambda, double? Tau)
    {
        /// <summary>β with the default of every objective but <c>simpo</c>.</summary>
        public double B => Beta ?? 0.1;
    }

    // The one table: name → (options it takes, factory), plus aliases. Names, Normalize, the option check and Create
    // read it. Option names are Create's parameter names; every objective takes beta.
    private static readonly ObjectiveTable<Options, IConformityObjective> s_table = new("conformity",
    [
        // The DPO family (needs a reference policy).
        new("sigmoid", ["beta", "labelSmoothing"], o => new SigmoidObjective(o.B, o.LabelSmoothing)),
        new("hinge", ["beta"], o => new HingeObjective(o.B)),
        new("ipo", ["beta"], o => new IpoObjective(o.B)),
        new("robust", ["beta", "labelSmoothing"], o => new RobustObjective(o.B, o.LabelSmoothing)),
        new("exo_pair", ["beta", "labelSmoothing"], o => new ExoPairObjective(o.B, ExoEpsilon(o.LabelSmoothing))),
        new("nca_pair", ["beta"], o => new NcaPairObjective(o.B)),
        new("bco_pair", ["beta"], o => new BcoPairObjective(o.B)),
        new("sppo_hard", ["beta"], o => new SppoHardObjective(o.B)),
        new("aot", ["beta", "labelSmoothing"], o => new AotObjective(o.B, o.LabelSmoothing)),
        new("aot_unpaired", ["beta", "labelSmoothing"], o => new AotUnpairedObjective(o.B, o.LabelSmoothing)),
        new("apo_zero", ["beta"], o => new ApoZeroObjective(o.B)),
        new("apo_down", ["beta"], o => new ApoDownObjective(o.B)),
        new("discopop", ["beta", "tau"], o => new DiscopopObjective(o.B, o.Tau ?? 0.05)),
        // Reference-free.
        new("simpo", ["beta", "gamma", "labelSmoothing"], o => new SimpoObjective(o.Beta ?? 2.0, o.Gamma ?? 0.5, o.LabelSmoothing)),
        new("cpo", ["beta", "alpha", "labelSmoothing"], o => new CpoObjective(o.B, o.Alpha ?? 1.0, o.LabelSmoothing)),
        new("orpo", ["beta", "lambda"], o => Orpo(o.Beta, o.Lambda)),
    ],
    new Dictionary<string, string> { ["aot_pair"] = "aot_unpaired" }); // TRL's name for it

    /// <summary>
    /// The names <see cref="Create"/> accepts, in a fixed order: the DPO family (which needs a reference policy), then
    /// the reference-free objectives. <see cref="Create"/> also accepts TRL's <c>aot_pair</c> as an alias of
    /// <c>aot_unpaired</c>.
    /// </summary>
    public static IReadOnlyList<string> Names => s_table.Names;

    /// <summary>
    /// The canonical name <see cref="Create"/> uses for <paramref name="name"/> (trimmed, lower case, TRL's alias
    /// <c>aot_pair</c> mapped), or null when it names no objective.
    /// </summary>
    internal static string? Normalize(string? name) => s_table.Normalize(name);

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
        var given = ObjectiveTable<Options, IConformityObjective>.Given(
            (nameof(beta), beta is not null), (nameof(labelSmoothing), labelSmoothing != 0), (nameof(gamma), gamma is not null),
            (nameof(alpha), alpha is not null), (nameof(lambda), lambda is not null), (nameof(tau), tau is not null));
        return s_table.Create(name, given, new Options(beta, labelSmoothing, gamma, alpha, lambda, tau));
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
}
