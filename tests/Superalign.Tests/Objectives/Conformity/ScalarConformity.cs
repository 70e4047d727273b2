using Superalign.Objectives;
using Superalign.Objectives.Conformity;
using TorchSharp;
using static TorchSharp.torch;

namespace Superalign.Tests.Objectives.Conformity;

/// <summary>One preference pair in double precision: policy/reference log-probs and response lengths.</summary>
public readonly record struct Pair(double Pc, double Pr, double Rc, double Rr, double Lc = 1, double Lr = 1)
{
    public double Cl => Pc - Rc;
    public double Rl => Pr - Rr;
    public double H => Cl - Rl;
    public Pair Swapped() => new(Pr, Pc, Rr, Rc, Lr, Lc);
}

/// <summary>Hyper-parameters shared by the test's objectives and the scalar reference.</summary>
public sealed record Settings(double Beta = 0.1, double Eps = 0, double Gamma = 0.5, double Alpha = 1.0, double Lambda = 0.1, double Tau = 0.05, double ExoEps = 1e-3);

/// <summary>
/// The published formulas written plainly, pair by pair, with Math.Log/Math.Exp in double precision — independent of
/// the tensor code under test (no TorchSharp, no shared helpers).
/// </summary>
public static class ScalarConformity
{
    public static readonly string[] Names =
    [
        "sigmoid", "hinge", "ipo", "robust", "exo_pair", "nca_pair", "bco_pair", "sppo_hard", "aot", "aot_unpaired",
        "apo_zero", "apo_down", "discopop", "simpo", "cpo", "orpo",
    ];

    public static readonly string[] ReferenceFree = ["simpo", "cpo", "orpo"];

    /// <summary>The objective under test, built by its constructor (not the factory) with <paramref name="s"/>.</summary>
    public static IConformityObjective Create(string name, Settings s) => name switch
    {
        "sigmoid" => new SigmoidObjective(s.Beta, s.Eps),
        "hinge" => new HingeObjective(s.Beta),
        "ipo" => new IpoObjective(s.Beta),
        "robust" => new RobustObjective(s.Beta, Math.Min(s.Eps, 0.49)),
        "exo_pair" => new ExoPairObjective(s.Beta, s.ExoEps),
        "nca_pair" => new NcaPairObjective(s.Beta),
        "bco_pair" => new BcoPairObjective(s.Beta),
        "sppo_hard" => new SppoHardObjective(s.Beta),
        "aot" => new AotObjective(s.Beta, s.Eps),
        "aot_unpaired" => new AotUnpairedObjective(s.Beta, s.Eps),
        "apo_zero" => new ApoZeroObjective(s.Beta),
        "apo_down" => new ApoDownObjective(s.Beta),
        "discopop" => new DiscopopObjective(s.Beta, s.Tau),
        "simpo" => new SimpoObjective(s.Beta, s.Gamma, s.Eps),
        "cpo" => new CpoObjective(s.Beta, s.Alpha, s.Eps),
        "orpo" => new OrpoObjective(s.Lambda),
        _ => throw new ArgumentException(name),
    };

    public static double LogSigmoid(double x) => x >= 0 ? -Math.Log(1 + Math.Exp(-x)) : x - Math.Log(1 + Math.Exp(x));

    public static double Sigmoid(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));

    /// <summary>cDPO: −(1−ε)·logσ(z) − ε·logσ(−z).</summary>
    public static double Cdpo(double z, double eps) => -(1 - eps) * LogSigmoid(z) - eps * LogSigmoid(-z);

    /// <summary>
    /// log(1 − eˣ) for x &lt; 0: the series −Σ uᵏ/k (u = eˣ) where u is small, direct where 1 − eˣ keeps its digits,
    /// a Taylor series of expm1 near 0.
    /// </summary>
    public static double Log1mExp(double x)
    {
        if (x < -4.6)
        {
            double u = Math.Exp(x), sum = 0, power = 1;
            for (int k = 1; k <= 9; k++) sum -= (power *= u) / k;
            return sum;
        }
        if (x < -1e-3) return Math.Log(1 - Math.Exp(x));
        double expm1 = x + x * x / 2 + x * x * x / 6 + x * x * x * x / 24;
        return Math.Log(-expm1);
    }

    /// <summary>Expected mean loss and per-pair rewards of objective <paramref name="name"/>.</summary>
    public static (double Loss, double[] Chosen, double[] Rejected) Expected(string name, Pair[] pairs, Settings s)
    {
        double b = s.Beta, e = s.Eps;
        int n = pairs.Length;
        var chosen = pairs.Select(p => b * p.Cl).ToArray();
        var rejected = pairs.Select(p => b * p.Rl).ToArray();
        double[] losses;
        switch (name)
        {
            case "sigmoid":
                losses = pairs.Select(p => Cdpo(b * p.H, e)).ToArray();
                break;
            case "hinge":
                losses = pairs.Select(p => Math.Max(0, 1 - b * p.H)).ToArray();
                break;
            case "ipo":
                losses = pairs.Select(p => Math.Pow(p.Cl / p.Lc - p.Rl / p.Lr - 1 / (2 * b), 2)).ToArray();
                chosen = pairs.Select(p => b * p.Cl / p.Lc).ToArray();
                rejected = pairs.Select(p => b * p.Rl / p.Lr).ToArray();
                break;
            case "robust":
            {
                double r = Math.Min(e, 0.49);
                losses = pairs.Select(p => (-(1 - r) * LogSigmoid(b * p.H) + r * LogSigmoid(-b * p.H)) / (1 - 2 * r)).ToArray();
                break;
            }
            case "exo_pair":
            {
                double x = s.ExoEps;
                losses = pairs.Select(p =>
                {
                    double z = b * p.H;
                    return Sigmoid(z) * (LogSigmoid(z) - Math.Log(1 - x)) + Sigmoid(-z) * (LogSigmoid(-z) - Math.Log(x));
                }).ToArray();
                break;
            }
            case "nca_pair":
                losses = pairs.Select(p => -LogSigmoid(b * p.Cl) - 0.5 * LogSigmoid(-b * p.Cl) - 0.5 * LogSigmoid(-b * p.Rl)).ToArray();
                break;
            case "bco_pair":
                losses = pairs.Select(p => -LogSigmoid(b * p.Cl) - LogSigmoid(-b * p.Rl)).ToArray();
                break;
            case "sppo_hard":
                losses = pairs.Select(p => Math.Pow(p.Cl - 0.5 / b, 2) + Math.Pow(p.Rl + 0.5 / b, 2)).ToArray();
                break;
            case "aot":
            {
                var policy = pairs.Select(p => p.Pc - p.Pr).OrderBy(v => v).ToArray();
                var reference = pairs.Select(p => p.Rc - p.Rr).OrderBy(v => v).ToArray();
                losses = Enumerable.Range(0, n).Select(i => Cdpo(b * (policy[i] - reference[i]), e)).ToArray();
                break;
            }
            case "aot_unpaired":
            {
                var cl = pairs.Select(p => p.Cl).OrderBy(v => v).ToArray();
                var rl = pairs.Select(p => p.Rl).OrderBy(v => v).ToArray();
                losses = Enumerable.Range(0, n).Select(i => Cdpo(b * (cl[i] - rl[i]), e)).ToArray();
                break;
            }
            case "apo_zero":
                losses = pairs.Select(p => 1 - Sigmoid(b * p.Cl) + Sigmoid(b * p.Rl)).ToArray();
                break;
            case "apo_down":
                losses = pairs.Select(p => Sigmoid(b * p.Cl) + 1 - Sigmoid(b * p.H)).ToArray();
                break;
            case "discopop":
                losses = pairs.Select(p =>
                {
                    double z = b * p.H, m = Sigmoid(z / s.Tau);
                    // e^(−z)·m overflows to ∞·0 below z ≈ −700; there the product is e^(−z + logσ(z/τ)).
                    double exp = -z < 700 ? Math.Exp(-z) * m : Math.Exp(-z + LogSigmoid(z / s.Tau));
                    return -LogSigmoid(z) * (1 - m) + exp;
                }).ToArray();
                break;
            case "simpo":
                losses = pairs.Select(p => Cdpo(b * (p.Pc / p.Lc - p.Pr / p.Lr) - s.Gamma, e)).ToArray();
                chosen = pairs.Select(p => b * p.Pc / p.Lc).ToArray();
                rejected = pairs.Select(p => b * p.Pr / p.Lr).ToArray();
                break;
            case "cpo":
                losses = pairs.Select(p => Cdpo(b * (p.Pc - p.Pr), e) + s.Alpha * (-p.Pc / p.Lc)).ToArray();
                chosen = pairs.Select(p => b * p.Pc).ToArray();
                rejected = pairs.Select(p => b * p.Pr).ToArray();
                break;
            case "orpo":
            {
                static double LogOdds(double l)
                {
                    l = Math.Min(l, -1e-6);
                    return l - Log1mExp(l);
                }
                losses = pairs.Select(p =>
                {
                    double lc = p.Pc / p.Lc, lr = p.Pr / p.Lr;
                    return -lc - s.Lambda * LogSigmoid(LogOdds(lc) - LogOdds(lr));
                }).ToArray();
                chosen = pairs.Select(p => s.Lambda * p.Pc / p.Lc).ToArray();
                rejected = pairs.Select(p => s.Lambda * p.Pr / p.Lr).ToArray();
                break;
            }
            default:
                throw new ArgumentException(name);
        }
        return (losses.Average(), chosen, rejected);
    }
}

/// <summary>Builds the objectives' tensor inputs from pairs.</summary>
public static class Inputs
{
    public static Tensor Column(IEnumerable<double> values, ScalarType dtype, bool requiresGrad = false, Device? device = null) =>
        tensor(values.ToArray(), dtype: ScalarType.Float64).to_type(dtype).to(device ?? CPU).requires_grad_(requiresGrad);

    public static PreferenceLogProbs From(Pair[] pairs, ScalarType dtype = ScalarType.Float64, bool reference = true, bool requiresGrad = false, Device? device = null) =>
        new(Column(pairs.Select(p => p.Pc), dtype, requiresGrad, device),
            Column(pairs.Select(p => p.Pr), dtype, requiresGrad, device),
            reference ? Column(pairs.Select(p => p.Rc), dtype, device: device) : null,
            reference ? Column(pairs.Select(p => p.Rr), dtype, device: device) : null,
            Column(pairs.Select(p => p.Lc), dtype, device: device),
            Column(pairs.Select(p => p.Lr), dtype, device: device));

    /// <summary>The pairs as the tensors will hold them: every value rounded to float32 when the dtype is float32.</summary>
    public static Pair[] AsStored(Pair[] pairs, ScalarType dtype) => dtype != ScalarType.Float32 ? pairs : pairs.Select(p =>
        new Pair((float)p.Pc, (float)p.Pr, (float)p.Rc, (float)p.Rr, (float)p.Lc, (float)p.Lr)).ToArray();

    /// <summary>
    /// Random pairs. <c>typical</c>: sequence log-probs in [−60, −1], reference within a few nats, lengths 1..30;
    /// <c>near</c>: per-token log-probs in (−1, −0.01) around −ln 2 (both branches of log1mexp), lengths 1..4;
    /// <c>certain</c>: per-token log-probs in (−1e-3, −1e-6), where log(1 − eˡ) loses its digits unless computed with care;
    /// <c>large</c>: log-probs down to −5000 with independent references, so |h| reaches several thousand.
    /// </summary>
    public static Pair[] Random(int n, int seed, string regime = "typical")
    {
        var rng = new Random(seed);
        double U(double a, double b) => a + (b - a) * rng.NextDouble();
        var pairs = new Pair[n];
        for (int i = 0; i < n; i++)
        {
            double lc = rng.Next(1, 31), lr = rng.Next(1, 31);
            pairs[i] = regime switch
            {
                "typical" => Typical(),
                "near" => Near(),
                "certain" => Certain(),
                "large" => new Pair(-U(1, 5000), -U(1, 5000), -U(1, 5000), -U(1, 5000), lc, lr),
                _ => throw new ArgumentException(regime),
            };

            Pair Typical()
            {
                double pc = -U(1, 60), pr = -U(1, 60);
                return new Pair(pc, pr, pc + U(-4, 4), pr + U(-4, 4), lc, lr);
            }

            Pair Certain()
            {
                double c = rng.Next(1, 5), r = rng.Next(1, 5);
                return new Pair(-U(1e-6, 1e-3) * c, -U(1e-6, 1e-3) * r, -U(1e-6, 1e-3) * c, -U(1e-6, 1e-3) * r, c, r);
            }

            Pair Near()
            {
                double c = rng.Next(1, 5), r = rng.Next(1, 5);
                double pc = -U(0.01, 1) * c, pr = -U(0.01, 1) * r;
                return new Pair(pc, pr, pc + U(-0.5, 0.5), pr + U(-0.5, 0.5), c, r);
            }
        }
        return pairs;
    }

    public static double[] Values(Tensor t) => t.detach().to_type(ScalarType.Float64).cpu().data<double>().ToArray();
}
