namespace Superalign.Tests.Objectives.Conformity;

/// <summary>One preference batch in plain doubles: summed log-probs and response lengths.</summary>
public sealed record PairData(double[] Pc, double[] Pr, double[] Rc, double[] Rr, double[] Lc, double[] Lr)
{
    public int Count => Pc.Length;

    public static PairData Random(int n, int seed, double scale = 5)
    {
        var rng = new Random(seed);
        double Next() => -rng.NextDouble() * scale * 4;
        double[] Make() => Enumerable.Range(0, n).Select(_ => Next()).ToArray();
        double[] Lengths() => Enumerable.Range(0, n).Select(_ => (double)rng.Next(1, 20)).ToArray();
        return new PairData(Make(), Make(), Make(), Make(), Lengths(), Lengths());
    }
}

/// <summary>
/// The published conformity losses written directly from <c>objectives.md</c>, pair by pair in double precision with
/// Math.Exp/Math.Log — independent of the library's tensor code, to test it against.
/// </summary>
public static class ScalarConformity
{
    public static double LogSig(double x) => x >= 0 ? -Math.Log(1 + Math.Exp(-x)) : x - Math.Log(1 + Math.Exp(x));
    public static double Sig(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));
    private static double Cdpo(double z, double e) => -(1 - e) * LogSig(z) - e * LogSig(-z);

    private static double Log1mExp(double l) => Math.Log(1 - Math.Exp(l));

    public static double Loss(string name, PairData d, double beta, double eps = 0, double gamma = 0.5, double alpha = 1, double tau = 0.05)
    {
        int n = d.Count;
        double sum = 0;
        if (name is "aot" or "aot_unpaired")
        {
            double[] a = new double[n], b = new double[n];
            for (int i = 0; i < n; i++)
            {
                if (name == "aot") { a[i] = d.Pc[i] - d.Pr[i]; b[i] = d.Rc[i] - d.Rr[i]; }
                else { a[i] = d.Pc[i] - d.Rc[i]; b[i] = d.Pr[i] - d.Rr[i]; }
            }
            Array.Sort(a);
            Array.Sort(b);
            for (int i = 0; i < n; i++) sum += Cdpo(beta * (a[i] - b[i]), eps);
            return sum / n;
        }
        double nll = 0;
        for (int i = 0; i < n; i++)
        {
            double cl = d.Pc[i] - d.Rc[i], rl = d.Pr[i] - d.Rr[i], h = cl - rl, z = beta * h;
            sum += name switch
            {
                "sigmoid" => Cdpo(z, eps),
                "hinge" => Math.Max(0, 1 - z),
                "ipo" => Math.Pow(cl / d.Lc[i] - rl / d.Lr[i] - 1 / (2 * beta), 2),
                "robust" => (-(1 - eps) * LogSig(z) + eps * LogSig(-z)) / (1 - 2 * eps),
                "exo_pair" => Sig(z) * (LogSig(z) - Math.Log(1 - eps)) + Sig(-z) * (LogSig(-z) - Math.Log(eps)),
                "nca_pair" => -LogSig(beta * cl) - 0.5 * LogSig(-beta * cl) - 0.5 * LogSig(-beta * rl),
                "bco_pair" => -LogSig(beta * cl) - LogSig(-beta * rl),
                "sppo_hard" => Math.Pow(cl - 1 / (2 * beta), 2) + Math.Pow(rl + 1 / (2 * beta), 2),
                "apo_zero" => 1 - Sig(beta * cl) + Sig(beta * rl),
                "apo_down" => Sig(beta * cl) + 1 - Sig(z),
                "discopop" => -LogSig(z) * (1 - Sig(z / tau)) + (Sig(z / tau) == 0 ? 0 : Math.Exp(-z) * Sig(z / tau)),
                "simpo" => Cdpo(beta * (d.Pc[i] / d.Lc[i] - d.Pr[i] / d.Lr[i]) - gamma, eps),
                "cpo" => Cdpo(beta * (d.Pc[i] - d.Pr[i]), eps),
                "orpo" => -beta * LogSig((d.Pc[i] / d.Lc[i] - Log1mExp(d.Pc[i] / d.Lc[i])) - (d.Pr[i] / d.Lr[i] - Log1mExp(d.Pr[i] / d.Lr[i]))),
                _ => throw new ArgumentException(name),
            };
            if (name is "cpo" or "orpo") nll += -d.Pc[i] / d.Lc[i];
        }
        double extra = name switch { "cpo" => alpha * nll / n, "orpo" => nll / n, _ => 0 };
        return sum / n + extra;
    }
}
