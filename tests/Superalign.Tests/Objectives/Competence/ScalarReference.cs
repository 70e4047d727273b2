using Superalign.Objectives.Competence;

namespace Superalign.Tests.Objectives.Competence;

/// <summary>
/// The competence objectives written out from the formulas in plain double arithmetic, one scored position at a
/// time: an independent check on the tensor implementations (no TorchSharp, no library code).
/// </summary>
public static class ScalarReference
{
    public static double LogSumExp(double[] z)
    {
        double max = z.Max();
        return max + Math.Log(z.Sum(x => Math.Exp(x - max)));
    }

    public static double[] LogSoftmax(double[] z)
    {
        double lse = LogSumExp(z);
        return z.Select(x => x - lse).ToArray();
    }

    /// <summary><c>Σ_i m_i ℓ_i / Σ_i m_i</c> over positions.</summary>
    public static double MaskedMean(CompetenceCase k, Func<int, double> loss)
    {
        double num = 0, den = 0;
        foreach (int i in k.Scored) { num += k.Mask[i] * loss(i); den += k.Mask[i]; }
        return num / den;
    }

    /// <summary><c>−Σ_c t_c log p_c</c>.</summary>
    public static double CrossEntropy(double[] target, double[] logp)
    {
        double s = 0;
        for (int c = 0; c < target.Length; c++) if (target[c] != 0) s -= target[c] * logp[c];
        return s;
    }

    public static double Entropy(double[] y) => -y.Where(v => v > 0).Sum(v => v * Math.Log(v));

    /// <summary>Hard-label CE with PyTorch's label smoothing: (1−ε)·(−log p_target) + ε·mean_c(−log p_c).</summary>
    public static double Ce(CompetenceCase k, double eps = 0) => MaskedMean(k, i =>
    {
        var logp = LogSoftmax(k.LogitRow(i));
        return (1 - eps) * -logp[k.Targets[i]] + eps * -logp.Average();
    });

    public static double Xent(CompetenceCase k) => MaskedMean(k, i => CrossEntropy(k.SoftRow(i), LogSoftmax(k.LogitRow(i))));

    public static double Kl(CompetenceCase k) => MaskedMean(k, i =>
    {
        var y = k.SoftRow(i);
        var logp = LogSoftmax(k.LogitRow(i));
        double s = 0;
        for (int c = 0; c < k.V; c++) if (y[c] > 0) s += y[c] * (Math.Log(y[c]) - logp[c]);
        return s;
    });

    /// <summary>The detached product target <c>t ∝ p^β y^α</c> at one position.</summary>
    public static double[] ProductTarget(double[] logits, double[] y, double alpha, double beta)
    {
        var p = CompetenceCase.Softmax(logits);
        var w = Enumerable.Range(0, y.Length).Select(c => Math.Pow(p[c], beta) * Math.Pow(y[c], alpha)).ToArray();
        double sum = w.Sum();
        return w.Select(x => x / sum).ToArray();
    }

    public static double Product(CompetenceCase k, double alpha, double beta) => MaskedMean(k, i =>
        CrossEntropy(ProductTarget(k.LogitRow(i), k.SoftRow(i), alpha, beta), LogSoftmax(k.LogitRow(i))));

    /// <summary><c>(1−α)·xent(y, p) + α·H(p)</c>.</summary>
    public static double EntropyObjective(CompetenceCase k, double alpha) => MaskedMean(k, i =>
    {
        var logp = LogSoftmax(k.LogitRow(i));
        return (1 - alpha) * CrossEntropy(k.SoftRow(i), logp) + alpha * Entropy(CompetenceCase.Softmax(k.LogitRow(i)));
    });

    public static double LogConf(CompetenceCase k, double alpha, double warmup, Hardening hardening)
    {
        double c = warmup == 0 ? alpha : alpha * Math.Min(1, k.StepFraction / warmup);
        var hard = Harden(k, hardening);
        return MaskedMean(k, i =>
        {
            var y = k.SoftRow(i);
            var target = Enumerable.Range(0, k.V).Select(j => (1 - c) * y[j] + c * hard[i][j]).ToArray();
            return CrossEntropy(target, LogSoftmax(k.LogitRow(i)));
        });
    }

    /// <summary>Hardened student predictions per scored position (position index → one-hot row).</summary>
    public static Dictionary<int, double[]> Harden(CompetenceCase k, Hardening hardening)
    {
        var scored = k.Scored.ToArray();
        var p = scored.ToDictionary(i => i, i => CompetenceCase.Softmax(k.LogitRow(i)));
        var hard = scored.ToDictionary(i => i, _ => new double[k.V]);
        if (hardening == Hardening.Argmax || (hardening == Hardening.Auto && k.V > 2))
        {
            foreach (int i in scored) hard[i][Array.IndexOf(p[i], p[i].Max())] = 1;
            return hard;
        }
        var meanY = Enumerable.Range(0, k.V).Select(c => scored.Sum(i => k.Soft[i * k.V + c]) / scored.Length).ToArray();
        if (k.V == 2)
        {
            // Threshold = linear-interpolation quantile of p0 at level mean(y1); class 1 below it.
            var sorted = scored.Select(i => p[i][0]).OrderBy(x => x).ToArray();
            double pos = meanY[1] * (sorted.Length - 1);
            int lo = (int)Math.Floor(pos), hi = Math.Min(lo + 1, sorted.Length - 1);
            double threshold = sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
            foreach (int i in scored) hard[i][p[i][0] < threshold ? 1 : 0] = 1;
            return hard;
        }
        // K classes: quotas by largest remainder, then repeatedly give the most probable open (position, class) pair.
        int n = scored.Length;
        var quota = meanY.Select(m => (int)Math.Floor(n * m)).ToArray();
        var byRemainder = Enumerable.Range(0, k.V).OrderByDescending(c => n * meanY[c] - quota[c]).ThenBy(c => c).ToArray();
        int left = n - quota.Sum();
        for (int r = 0; r < left; r++) quota[byRemainder[r]]++;
        var open = new HashSet<int>(scored);
        while (open.Count > 0)
        {
            (int Pos, int Cls, double P) best = (-1, -1, double.NegativeInfinity);
            foreach (int i in scored.Where(open.Contains))
                for (int c = 0; c < k.V; c++)
                    if (quota[c] > 0 && p[i][c] > best.P) best = (i, c, p[i][c]);
            hard[best.Pos][best.Cls] = 1;
            quota[best.Cls]--;
            open.Remove(best.Pos);
        }
        return hard;
    }
}
