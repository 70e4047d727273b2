using static TorchSharp.torch;

namespace Superalign.Objectives.Competence;

/// <summary>How <see cref="LogConfidenceObjective"/> hardens the student's predictions into labels.</summary>
public enum Hardening
{
    /// <summary>
    /// Two classes: <see cref="MatchWeakMarginals"/> (the balanced threshold of Burns et al.); more classes:
    /// <see cref="Argmax"/>.
    /// </summary>
    Auto = 0,

    /// <summary>The student's argmax at each position (with two classes: threshold 0.5).</summary>
    Argmax = 1,

    /// <summary>
    /// Hardened labels that keep the batch's weak-label class balance. Two classes: predict class 1 where
    /// <c>p_0 &lt; θ</c>, with θ the (linearly interpolated) quantile of <c>p_0</c> over the scored positions at level
    /// <c>mean(y_1)</c>. K classes: each class c gets the quota <c>n_c</c> = <c>N · mean(y_c)</c> rounded by largest
    /// remainder (so the quotas sum to the N scored positions); then (position, class) pairs are visited by descending
    /// <c>p_c</c> (ties: lower position, then lower class) and a position takes the class of its first visited pair
    /// whose class still has quota. Runs on the CPU in O(N·K log(N·K)): meant for classifiers, not vocabularies.
    /// </summary>
    MatchWeakMarginals = 2,
}

/// <summary>
/// <c>logconf</c>: the auxiliary confidence loss of Burns et al. (2023). Cross-entropy to the target
/// <c>(1 − c)·y + c·hard(p)</c>, where <c>hard(p)</c> hardens the student's own (detached) predictions — see
/// <see cref="Hardening"/> — and <c>c = α·min(1, step_frac / warmup_frac)</c> rises <b>linearly</b> during warm-up
/// (the original code jumps). The whole target is detached. Scored positions of all sequences are pooled for the
/// batch statistics (weak-label marginals, quantile).
/// </summary>
/// <remarks>
/// Small-scale replications found it neutral or harmful with very weak supervisors; it is not a default objective.
/// Burns et al. use α = 0.75 for their largest students.
/// </remarks>
public sealed class LogConfidenceObjective : ICompetenceObjective
{
    /// <summary>Creates the objective.</summary>
    /// <param name="alpha">Final weight α in [0, 1] of the hardened predictions (default 0.5).</param>
    /// <param name="warmupFraction">Fraction of training in [0, 1] over which <c>c</c> rises from 0 to α (default 0.2; 0 = no warm-up).</param>
    /// <param name="hardening">How predictions are hardened (default <see cref="Hardening.Auto"/>).</param>
    public LogConfidenceObjective(double alpha = 0.5, double warmupFraction = 0.2, Hardening hardening = Hardening.Auto)
    {
        Alpha = CompetenceTensors.CheckRange(alpha, nameof(alpha), 0, 1);
        WarmupFraction = CompetenceTensors.CheckRange(warmupFraction, nameof(warmupFraction), 0, 1);
        if (!Enum.IsDefined(hardening))
            throw new ArgumentOutOfRangeException(nameof(hardening), hardening, $"hardening must be one of {string.Join(", ", Enum.GetNames<Hardening>())}.");
        Hardening = hardening;
    }

    /// <summary>Final weight α of the hardened predictions.</summary>
    public double Alpha { get; }

    /// <summary>Fraction of training over which the weight warms up.</summary>
    public double WarmupFraction { get; }

    /// <summary>How predictions are hardened.</summary>
    public Hardening Hardening { get; }

    /// <inheritdoc />
    public string Name => "logconf";

    /// <inheritdoc />
    public bool RequiresSoftTargets => true;

    /// <summary>The weight <c>c = α·min(1, stepFraction / warmupFraction)</c> (α when there is no warm-up).</summary>
    public double Coefficient(double stepFraction) =>
        WarmupFraction == 0 ? Alpha : Alpha * Math.Clamp(stepFraction / WarmupFraction, 0, 1);

    /// <inheritdoc />
    public Tensor Loss(CompetenceInput input)
    {
        var x = CompetenceTensors.Prepare(input, Name, needsSoftTargets: true);
        double c = Coefficient(input.Progress.Fraction);
        var y = x.SoftTargets!;
        // With c = 0 the target is y itself: skip hardening (and its CPU work).
        var target = c == 0 ? y : y * (1 - c) + Harden(x.LogProbs.detach().exp(), y, x.Mask) * c;
        return CompetenceTensors.MaskedMean(CompetenceTensors.SoftCrossEntropy(target, x.LogProbs), x.Mask);
    }

    /// <summary>One-hot hardened predictions <c>[B, T, V]</c> (zero rows at masked positions for K-class balancing).</summary>
    internal Tensor Harden(Tensor probs, Tensor softTargets, Tensor mask)
    {
        long k = probs.shape[2];
        if (Hardening == Hardening.Argmax || (Hardening == Hardening.Auto && k > 2))
            return nn.functional.one_hot(probs.argmax(-1), k).to_type(probs.dtype);
        // Weak-label marginals over the scored positions.
        var marginals = (softTargets * mask.unsqueeze(-1)).sum([0, 1]) / mask.sum().clamp_min(1e-12);
        return k == 2 ? BalancedThreshold(probs, marginals, mask) : GreedyMarginals(probs, marginals, mask);
    }

    /// <summary>Binary: class 1 where <c>p_0</c> falls below its quantile at level <c>mean(y_1)</c>.</summary>
    private static Tensor BalancedThreshold(Tensor probs, Tensor marginals, Tensor mask)
    {
        var p0 = probs.select(-1, 0);
        var scoredP0 = p0.masked_select(mask > 0);
        if (scoredP0.shape[0] == 0) return zeros_like(probs);
        // Clamp: rounding can push the mean a hair outside [0, 1], which quantile rejects.
        var threshold = scoredP0.quantile(marginals[1].clamp(0, 1));
        var class1 = (p0 < threshold).to_type(probs.dtype);
        return stack([1 - class1, class1], -1);
    }

    /// <summary>K classes: greedy assignment by descending probability under per-class quotas (see <see cref="Hardening.MatchWeakMarginals"/>).</summary>
    private static Tensor GreedyMarginals(Tensor probs, Tensor marginals, Tensor mask)
    {
        long b = probs.shape[0], t = probs.shape[1], k = probs.shape[2];
        var scored = (mask.reshape(-1) > 0).nonzero().reshape(-1);
        int n = (int)scored.shape[0];
        var hard = new double[b * t * k];
        if (n > 0)
        {
            var p = probs.reshape(b * t, k).index_select(0, scored).to_type(ScalarType.Float64).cpu().data<double>().ToArray();
            var positions = scored.cpu().data<long>().ToArray();
            var quotas = Quotas(n, marginals.to_type(ScalarType.Float64).cpu().data<double>().ToArray());
            var assigned = AssignGreedy(p, n, (int)k, quotas);
            for (int j = 0; j < n; j++) hard[positions[j] * k + assigned[j]] = 1;
        }
        return tensor(hard).reshape(b, t, k).to(probs.dtype, probs.device);
    }

    /// <summary>Largest-remainder rounding of <c>n · w_c / Σw</c>: integer quotas summing to n (ties: lower class).</summary>
    internal static int[] Quotas(int n, double[] weights)
    {
        var w = weights.Select(v => Math.Max(v, 0)).ToArray();
        double total = w.Sum();
        var raw = w.Select(v => total > 0 ? n * v / total : (double)n / w.Length).ToArray();
        var quotas = raw.Select(r => (int)Math.Floor(r)).ToArray();
        int left = n - quotas.Sum();
        foreach (int c in Enumerable.Range(0, w.Length).OrderByDescending(c => raw[c] - quotas[c]).ThenBy(c => c).Take(left))
            quotas[c]++;
        return quotas;
    }

    /// <summary>Visits (position, class) pairs by descending probability; each position takes the first class with quota left.</summary>
    internal static int[] AssignGreedy(double[] probs, int n, int k, int[] quotas)
    {
        var order = Enumerable.Range(0, n * k).ToArray();
        Array.Sort(order, (i, j) => probs[j].CompareTo(probs[i]) is var cmp and not 0 ? cmp : i.CompareTo(j));
        var assigned = Enumerable.Repeat(-1, n).ToArray();
        var left = (int[])quotas.Clone();
        foreach (int pair in order)
        {
            int pos = pair / k, c = pair % k;
            if (assigned[pos] >= 0 || left[c] == 0) continue;
            assigned[pos] = c;
            left[c]--;
        }
        return assigned;
    }
}
