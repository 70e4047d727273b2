using MathNet.Numerics.Statistics;

namespace Superalign.Experiments.Metrics;

/// <summary>
/// The performance gap recovered by one (weak, strong) pair: how much of the gap between the weak supervisor and the
/// strong ceiling the weakly supervised student closes. Built by <see cref="PerformanceGapRecovered"/>.
/// </summary>
public sealed record PgrResult
{
    internal PgrResult(double weak, double student, double ceiling, bool lowerIsBetter, double value, string? exclusionReason)
    {
        Weak = weak;
        Student = student;
        Ceiling = ceiling;
        LowerIsBetter = lowerIsBetter;
        Value = value;
        ExclusionReason = exclusionReason;
    }

    /// <summary>The weak supervisor's metric on the test set.</summary>
    public double Weak { get; }

    /// <summary>The weakly supervised strong student's metric on the test set.</summary>
    public double Student { get; }

    /// <summary>The strong ceiling's metric (the strong model trained on ground truth).</summary>
    public double Ceiling { get; }

    /// <summary>Whether the metric is a loss (lower is better) rather than an accuracy-like score.</summary>
    public bool LowerIsBetter { get; }

    /// <summary>
    /// The gap the ceiling opens over the weak model, in the improving direction: <c>Ceiling − Weak</c> for a score,
    /// <c>Weak − Ceiling</c> for a loss.
    /// </summary>
    public double Gap => LowerIsBetter ? Weak - Ceiling : Ceiling - Weak;

    /// <summary>
    /// PGR: <c>(Student − Weak) / (Ceiling − Weak)</c> for a score, <c>(Weak − Student) / (Weak − Ceiling)</c> for a
    /// loss; 0 when the student only matches the weak model, 1 when it reaches the ceiling. <see cref="double.NaN"/>
    /// when the pair is <see cref="Excluded"/>.
    /// </summary>
    public double Value { get; }

    /// <summary>Why the pair is excluded (its gap is not above the minimum), or null when it is included.</summary>
    public string? ExclusionReason { get; }

    /// <summary>Whether the pair is excluded from medians (see <see cref="ExclusionReason"/>).</summary>
    public bool Excluded => ExclusionReason is not null;
}

/// <summary>The median PGR over (weak, strong) pairs, as the weak-to-strong papers report it.</summary>
/// <param name="Median">Median of the included pairs' PGR; <see cref="double.NaN"/> when every pair is excluded.</param>
/// <param name="Included">Number of pairs that entered the median.</param>
/// <param name="Excluded">Number of pairs left out by the exclusion rule.</param>
/// <param name="Pairs">Every pair, included or not, in the order given.</param>
public sealed record PgrSummary(double Median, int Included, int Excluded, IReadOnlyList<PgrResult> Pairs)
{
    /// <summary>Why there is no median (every pair excluded), or null when there is one.</summary>
    public string? Reason => Included == 0 ? $"All {Excluded} pair(s) are excluded: no ceiling beats its weak model by more than the minimum gap." : null;
}

/// <summary>
/// Performance gap recovered (Burns et al. 2023): <c>PGR = (student − weak) / (ceiling − weak)</c>.
/// </summary>
/// <remarks>
/// <para><b>Exclusion rule.</b> A pair whose strong ceiling does not beat its weak model has no gap to recover, and
/// its ratio is meaningless (a division by zero, or by a negative number that flips the sign). Following the
/// weak-to-strong protocol, such pairs are excluded: a pair enters only when its gap (<see cref="PgrResult.Gap"/>) is
/// strictly greater than <c>minimumGap</c>, which defaults to 0 — exactly "the ceiling beats the weak model". Raise it
/// (e.g. to a few standard errors of the test accuracy) to also drop pairs whose gap is within noise, where PGR is
/// dominated by measurement error. An excluded pair has <see cref="PgrResult.Value"/> = NaN and a reason.</para>
/// <para><b>Aggregation.</b> Across (weak, strong) pairs the median of the included pairs is reported
/// (<see cref="Median(IEnumerable{PgrResult})"/>); it is robust to the huge ratios of pairs with small gaps.</para>
/// </remarks>
public static class PerformanceGapRecovered
{
    /// <summary>PGR of an accuracy-like metric (higher is better).</summary>
    /// <param name="weak">The weak supervisor's metric.</param>
    /// <param name="student">The weakly supervised student's metric.</param>
    /// <param name="ceiling">The strong ceiling's metric.</param>
    /// <param name="minimumGap">The pair is excluded unless <c>ceiling − weak &gt; minimumGap</c> (at least 0).</param>
    /// <exception cref="ArgumentOutOfRangeException">A metric is not finite or <paramref name="minimumGap"/> is negative.</exception>
    public static PgrResult Compute(double weak, double student, double ceiling, double minimumGap = 0) =>
        Create(weak, student, ceiling, minimumGap, lowerIsBetter: false);

    /// <summary>PGR of a loss (lower is better): <c>(L_weak − L_student) / (L_weak − L_ceiling)</c>.</summary>
    /// <param name="weakLoss">The weak supervisor's loss.</param>
    /// <param name="studentLoss">The weakly supervised student's loss.</param>
    /// <param name="ceilingLoss">The strong ceiling's loss.</param>
    /// <param name="minimumGap">The pair is excluded unless <c>weakLoss − ceilingLoss &gt; minimumGap</c> (at least 0).</param>
    /// <exception cref="ArgumentOutOfRangeException">A loss is not finite or <paramref name="minimumGap"/> is negative.</exception>
    public static PgrResult FromLoss(double weakLoss, double studentLoss, double ceilingLoss, double minimumGap = 0)
    {
        MetricInputs.Finite(weakLoss, nameof(weakLoss));
        MetricInputs.Finite(studentLoss, nameof(studentLoss));
        MetricInputs.Finite(ceilingLoss, nameof(ceilingLoss));
        return Create(weakLoss, studentLoss, ceilingLoss, minimumGap, lowerIsBetter: true);
    }

    /// <summary>PGR of test accuracy computed from the three models' predicted class ids.</summary>
    /// <param name="labels">True class ids <c>[N]</c>.</param>
    /// <param name="weak">The weak supervisor's predictions <c>[N]</c>.</param>
    /// <param name="student">The student's predictions <c>[N]</c>.</param>
    /// <param name="ceiling">The strong ceiling's predictions <c>[N]</c>.</param>
    /// <param name="minimumGap">See <see cref="Compute"/>.</param>
    /// <exception cref="ArgumentException">The arrays are empty or of different lengths (the message names the parameter).</exception>
    public static PgrResult FromPredictions(int[] labels, int[] weak, int[] student, int[] ceiling, double minimumGap = 0)
    {
        MetricInputs.NotEmpty(labels, nameof(labels));
        MetricInputs.SameLength(weak, labels.Length, nameof(weak), nameof(labels));
        MetricInputs.SameLength(student, labels.Length, nameof(student), nameof(labels));
        MetricInputs.SameLength(ceiling, labels.Length, nameof(ceiling), nameof(labels));
        return Compute(ClassificationAccuracy.Of(weak, labels), ClassificationAccuracy.Of(student, labels), ClassificationAccuracy.Of(ceiling, labels), minimumGap);
    }

    /// <summary>The median PGR over the included pairs, with counts of included and excluded pairs.</summary>
    /// <param name="pairs">One result per (weak, strong) pair (and seed, when seeds are pooled).</param>
    /// <exception cref="ArgumentException"><paramref name="pairs"/> is empty or holds null.</exception>
    public static PgrSummary Median(IEnumerable<PgrResult> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var all = pairs.ToList();
        MetricInputs.NotEmpty(all, nameof(pairs));
        if (all.Any(p => p is null))
            throw new ArgumentException("pairs must not contain null.", nameof(pairs));
        var values = all.Where(p => !p.Excluded).Select(p => p.Value).ToArray();
        double median = values.Length == 0 ? double.NaN : values.Median();
        return new PgrSummary(median, values.Length, all.Count - values.Length, all);
    }

    /// <summary>The median PGR over pairs of accuracy-like metrics, applying the exclusion rule to each.</summary>
    /// <param name="pairs">(weak, student, ceiling) metrics per pair.</param>
    /// <param name="minimumGap">See <see cref="Compute"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="pairs"/> is empty.</exception>
    public static PgrSummary Median(IEnumerable<(double Weak, double Student, double Ceiling)> pairs, double minimumGap = 0)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        return Median(pairs.Select(p => Compute(p.Weak, p.Student, p.Ceiling, minimumGap)).ToList());
    }

    private static PgrResult Create(double weak, double student, double ceiling, double minimumGap, bool lowerIsBetter)
    {
        MetricInputs.Finite(weak, nameof(weak));
        MetricInputs.Finite(student, nameof(student));
        MetricInputs.Finite(ceiling, nameof(ceiling));
        if (!(minimumGap >= 0 && double.IsFinite(minimumGap)))
            throw new ArgumentOutOfRangeException(nameof(minimumGap), minimumGap, $"{nameof(minimumGap)} must be finite and at least 0; got {minimumGap}.");
        double gap = lowerIsBetter ? weak - ceiling : ceiling - weak;
        if (!(gap > minimumGap))
        {
            string reason = lowerIsBetter
                ? $"Excluded: weak loss − ceiling loss = {gap:G6} is not above the minimum gap {minimumGap:G6} (the ceiling does not beat the weak model)."
                : $"Excluded: ceiling − weak = {gap:G6} is not above the minimum gap {minimumGap:G6} (the ceiling does not beat the weak model).";
            return new PgrResult(weak, student, ceiling, lowerIsBetter, double.NaN, reason);
        }
        double recovered = lowerIsBetter ? weak - student : student - weak;
        return new PgrResult(weak, student, ceiling, lowerIsBetter, recovered / gap, null);
    }
}
