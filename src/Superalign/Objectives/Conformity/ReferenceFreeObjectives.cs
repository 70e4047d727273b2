using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Superalign.Objectives.Conformity;

/// <summary>
/// SimPO (Meng et al. 2024): <c>−logσ(β·(πc/|yc| − πr/|yr|) − γ)</c> on length-averaged log-probs, no reference.
/// γ is the absolute target margin after scaling by β (TRL's CPO trainer writes the same loss as
/// <c>β·(Δ − γ/β)</c>). Optional label smoothing as in cDPO. Rewards: <c>β·πc/|yc|</c> and <c>β·πr/|yr|</c>.
/// </summary>
public sealed class SimPo : IConformityObjective
{
    /// <summary>Creates SimPO.</summary>
    /// <param name="beta">β &gt; 0 (paper: 2.0).</param>
    /// <param name="gamma">Target margin γ ≥ 0 (paper: 0.5).</param>
    /// <param name="labelSmoothing">ε in [0, 0.5].</param>
    public SimPo(double beta = 2.0, double gamma = 0.5, double labelSmoothing = 0)
    {
        Beta = Check.Positive(beta, nameof(beta));
        Gamma = Check.NonNegative(gamma, nameof(gamma));
        LabelSmoothing = Check.InRange(labelSmoothing, 0, 0.5, nameof(labelSmoothing), "[0, 0.5]");
    }

    /// <summary>β.</summary>
    public double Beta { get; }

    /// <summary>γ.</summary>
    public double Gamma { get; }

    /// <summary>ε.</summary>
    public double LabelSmoothing { get; }

    /// <inheritdoc />
    public string Name => "simpo";

    /// <inheritdoc />
    public bool RequiresReference => false;

    /// <inheritdoc />
    public ConformityLoss Compute(PreferenceLogProbs logps)
    {
        ArgumentNullException.ThrowIfNull(logps);
        var chosen = logps.PolicyChosen / logps.ChosenLengths;
        var rejected = logps.PolicyRejected / logps.RejectedLengths;
        var loss = ReferenceObjective.Cdpo(Beta * (chosen - rejected) - Gamma, LabelSmoothing).mean();
        return new ConformityLoss(loss, (Beta * chosen).detach(), (Beta * rejected).detach());
    }
}

/// <summary>
/// CPO (Xu et al. 2024): <c>−logσ(β·(πc − πr)) + α·NLL(chosen)</c>, no reference. NLL(chosen) is the mean over pairs
/// of the chosen response's per-token negative log-likelihood <c>−πc/|yc|</c>. Rewards: <c>β·πc</c>, <c>β·πr</c>.
/// </summary>
public sealed class Cpo : IConformityObjective
{
    /// <summary>Creates CPO.</summary>
    /// <param name="beta">β &gt; 0 (TRL default 0.1).</param>
    /// <param name="alpha">Weight α ≥ 0 of the chosen NLL (paper: 1).</param>
    /// <param name="labelSmoothing">ε in [0, 0.5].</param>
    public Cpo(double beta = 0.1, double alpha = 1.0, double labelSmoothing = 0)
    {
        Beta = Check.Positive(beta, nameof(beta));
        Alpha = Check.NonNegative(alpha, nameof(alpha));
        LabelSmoothing = Check.InRange(labelSmoothing, 0, 0.5, nameof(labelSmoothing), "[0, 0.5]");
    }

    /// <summary>β.</summary>
    public double Beta { get; }

    /// <summary>α.</summary>
    public double Alpha { get; }

    /// <summary>ε.</summary>
    public double LabelSmoothing { get; }

    /// <inheritdoc />
    public string Name => "cpo";

    /// <inheritdoc />
    public bool RequiresReference => false;

    /// <inheritdoc />
    public ConformityLoss Compute(PreferenceLogProbs logps)
    {
        ArgumentNullException.ThrowIfNull(logps);
        var preference = ReferenceObjective.Cdpo(Beta * (logps.PolicyChosen - logps.PolicyRejected), LabelSmoothing).mean();
        var nll = (-logps.PolicyChosen / logps.ChosenLengths).mean();
        return new ConformityLoss(preference + Alpha * nll, (Beta * logps.PolicyChosen).detach(), (Beta * logps.PolicyRejected).detach());
    }
}

/// <summary>
/// ORPO (Hong et al. 2024): <c>NLL(chosen) − λ·logσ(logodds(yc) − logodds(yr))</c>, no reference, with
/// <c>logodds(y) = ℓ − log(1 − e^ℓ)</c> and ℓ the length-averaged log-prob. <c>log(1 − e^ℓ)</c> is computed stably
/// (<c>log(−expm1 ℓ)</c> near 0, <c>log1p(−e^ℓ)</c> below −ln 2), with ℓ capped at −1e-6 so a response of probability 1
/// stays finite. NLL(chosen) = mean over pairs of <c>−ℓc</c>. λ is TRL's <c>beta</c>. Rewards: <c>λ·ℓc</c>, <c>λ·ℓr</c>.
/// </summary>
public sealed class Orpo : IConformityObjective
{
    /// <summary>Creates ORPO.</summary>
    /// <param name="lambda">Weight λ &gt; 0 of the odds-ratio term (paper and TRL: 0.1).</param>
    public Orpo(double lambda = 0.1)
    {
        Lambda = Check.Positive(lambda, nameof(lambda));
    }

    /// <summary>λ.</summary>
    public double Lambda { get; }

    /// <inheritdoc />
    public string Name => "orpo";

    /// <inheritdoc />
    public bool RequiresReference => false;

    /// <inheritdoc />
    public ConformityLoss Compute(PreferenceLogProbs logps)
    {
        ArgumentNullException.ThrowIfNull(logps);
        var chosen = logps.PolicyChosen / logps.ChosenLengths;
        var rejected = logps.PolicyRejected / logps.RejectedLengths;
        var ratio = LogOdds(chosen) - LogOdds(rejected);
        var loss = (-chosen).mean() - Lambda * F.logsigmoid(ratio).mean();
        return new ConformityLoss(loss, (Lambda * chosen).detach(), (Lambda * rejected).detach());
    }

    /// <summary><c>ℓ − log(1 − e^ℓ)</c> for ℓ ≤ 0, computed without cancellation.</summary>
    internal static Tensor LogOdds(Tensor l)
    {
        var capped = l.clamp_max(-1e-6);
        var nearZero = (-capped.expm1()).log();
        var farBelow = (-capped.exp()).log1p();
        return capped - where(capped > -Math.Log(2), nearZero, farBelow);
    }
}

/// <summary>
/// A weighted sum of conformity objectives, e.g. <c>sigmoid + 0.5·sft</c>-style combinations (RPO is DPO plus a chosen
/// NLL; <see cref="Cpo"/> with a reference objective gives it). Rewards are those of the first component.
/// </summary>
public sealed class WeightedConformityObjective : IConformityObjective
{
    private readonly (IConformityObjective Objective, double Weight)[] _parts;

    /// <summary>Creates the sum.</summary>
    /// <param name="parts">Objectives with finite, non-negative weights, not all zero.</param>
    public WeightedConformityObjective(params (IConformityObjective Objective, double Weight)[] parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Length == 0) throw new ArgumentException("At least one objective is needed.", nameof(parts));
        foreach (var (objective, weight) in parts)
        {
            ArgumentNullException.ThrowIfNull(objective, nameof(parts));
            if (!(double.IsFinite(weight) && weight >= 0))
                throw new ArgumentOutOfRangeException(nameof(parts), weight, $"The weight of '{objective.Name}' must be finite and >= 0; got {weight}.");
        }
        if (parts.All(p => p.Weight == 0)) throw new ArgumentException("At least one weight must be positive.", nameof(parts));
        _parts = parts.ToArray();
        Name = string.Join("+", _parts.Select(p => p.Weight == 1 ? p.Objective.Name : $"{p.Weight:G4}*{p.Objective.Name}"));
    }

    /// <summary>The components and their weights.</summary>
    public IReadOnlyList<(IConformityObjective Objective, double Weight)> Parts => _parts;

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public bool RequiresReference => _parts.Any(p => p.Objective.RequiresReference);

    /// <inheritdoc />
    public ConformityLoss Compute(PreferenceLogProbs logps)
    {
        ConformityLoss? first = null;
        Tensor? total = null;
        foreach (var (objective, weight) in _parts)
        {
            var result = objective.Compute(logps);
            first ??= result;
            var term = result.Loss * weight;
            total = total is null ? term : total + term;
        }
        return new ConformityLoss(total!, first!.ChosenRewards, first.RejectedRewards);
    }
}

/// <summary>Creates conformity objectives by their TRL loss-type names.</summary>
public static class ConformityObjectives
{
    /// <summary>Every name <see cref="Create"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = new[]
    {
        "sigmoid", "hinge", "ipo", "robust", "exo_pair", "nca_pair", "bco_pair", "sppo_hard", "aot", "aot_unpaired",
        "apo_zero", "apo_down", "discopop", "simpo", "cpo", "orpo",
    };

    /// <summary>Creates the objective named <paramref name="name"/> (case-insensitive).</summary>
    /// <param name="name">One of <see cref="Names"/>.</param>
    /// <param name="beta">β; null for the objective's default (0.1; SimPO 2.0; ORPO's λ 0.1).</param>
    /// <param name="labelSmoothing">ε for <c>sigmoid</c> (cDPO), <c>robust</c>, <c>exo_pair</c> (0 → 1e-3), <c>aot</c>, <c>aot_unpaired</c>, <c>simpo</c>, <c>cpo</c>.</param>
    /// <param name="gamma">SimPO's margin γ (default 0.5).</param>
    /// <param name="alpha">CPO's NLL weight α (default 1).</param>
    /// <param name="tau">DiscoPOP's τ (default 0.05).</param>
    /// <exception cref="ArgumentException">Unknown name (the message lists the valid ones).</exception>
    /// <exception cref="ArgumentOutOfRangeException">A hyper-parameter is out of range (the message names it).</exception>
    public static IConformityObjective Create(string name, double? beta = null, double labelSmoothing = 0, double? gamma = null, double? alpha = null, double? tau = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        double b = beta ?? 0.1;
        return name.Trim().ToLowerInvariant() switch
        {
            "sigmoid" or "dpo" => new SigmoidDpo(b, labelSmoothing),
            "hinge" => new HingeLoss(b),
            "ipo" => new Ipo(b),
            "robust" => new RobustDpo(b, labelSmoothing),
            "exo_pair" => new ExoPair(b, labelSmoothing),
            "nca_pair" => new NcaPair(b),
            "bco_pair" => new BcoPair(b),
            "sppo_hard" => new SppoHard(b),
            "aot" => new Aot(b, labelSmoothing),
            "aot_unpaired" => new AotUnpaired(b, labelSmoothing),
            "apo_zero" => new ApoZero(b),
            "apo_down" => new ApoDown(b),
            "discopop" => new DiscoPop(b, tau ?? 0.05),
            "simpo" => new SimPo(beta ?? 2.0, gamma ?? 0.5, labelSmoothing),
            "cpo" => new Cpo(b, alpha ?? 1.0, labelSmoothing),
            "orpo" => new Orpo(b),
            _ => throw new ArgumentException($"Unknown conformity objective '{name}'. Valid names: {string.Join(", ", Names)}.", nameof(name)),
        };
    }
}

/// <summary>Hyper-parameter checks whose errors name the parameter and the allowed range.</summary>
internal static class Check
{
    public static double Positive(double value, string name) =>
        double.IsFinite(value) && value > 0 ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be finite and > 0; got {value}.");

    public static double NonNegative(double value, string name) =>
        double.IsFinite(value) && value >= 0 ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be finite and >= 0; got {value}.");

    public static double InRange(double value, double low, double high, string name, string range, bool lowerOpen = false, bool upperOpen = false)
    {
        bool ok = double.IsFinite(value) && (lowerOpen ? value > low : value >= low) && (upperOpen ? value < high : value <= high);
        return ok ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be in {range}; got {value}.");
    }

    public static void SameShape(Tensor chosen, Tensor rejected)
    {
        if (chosen.dim() != 1 || !chosen.shape.SequenceEqual(rejected.shape))
            throw new ArgumentException($"Chosen and rejected log-probs must both have shape [B]; got [{string.Join(", ", chosen.shape)}] and [{string.Join(", ", rejected.shape)}].");
    }
}
