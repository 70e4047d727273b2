using FsCheck;
using FsCheck.Fluent;
using MathNet.Numerics.Random;
using Superalign.Experiments.Metrics;
using Xunit;

namespace Superalign.Tests.Experiments.Metrics;

/// <summary>FsCheck properties of the metrics; floats come from bounded integer generators (no NaN or infinities).</summary>
public sealed class MetricPropertyTests
{
    private static readonly Config Config = Config.QuickThrowOnFailure.WithMaxTest(200);

    /// <summary>Weak and ceiling accuracies in thousandths with ceiling &gt; weak.</summary>
    private static readonly Arbitrary<(double Weak, double Ceiling)> Gaps =
        (from w in Gen.Choose(0, 999)
         from c in Gen.Choose(w + 1, 1000)
         select (w / 1000.0, c / 1000.0)).ToArbitrary();

    [Fact]
    public void Pgr_is_one_at_the_ceiling_and_zero_at_the_weak_model()
    {
        Check.One(Config, Prop.ForAll(Gaps, g =>
            Math.Abs(PerformanceGapRecovered.Compute(g.Weak, g.Ceiling, g.Ceiling).Value - 1) < 1e-12
            && PerformanceGapRecovered.Compute(g.Weak, g.Weak, g.Ceiling).Value == 0
            && Math.Abs(PerformanceGapRecovered.FromLoss(1 - g.Weak, 1 - g.Ceiling, 1 - g.Ceiling).Value - 1) < 1e-9));
    }

    [Fact]
    public void Pgr_is_excluded_exactly_when_the_ceiling_does_not_beat_the_weak_model()
    {
        var pairs = (from w in Gen.Choose(0, 1000) from c in Gen.Choose(0, 1000) from s in Gen.Choose(0, 1000)
                     select (w / 1000.0, s / 1000.0, c / 1000.0)).ToArbitrary();
        Check.One(Config, Prop.ForAll(pairs, p =>
        {
            var r = PerformanceGapRecovered.Compute(p.Item1, p.Item2, p.Item3);
            return r.Excluded == (p.Item3 <= p.Item1) && r.Excluded == double.IsNaN(r.Value);
        }));
    }

    public sealed record EceCase(int Seed, int N, int Classes, int Bins);

    private static readonly Arbitrary<EceCase> EceCases =
        (from seed in Gen.Choose(0, 1_000_000)
         from n in Gen.Choose(1, 60)
         from c in Gen.Choose(2, 6)
         from bins in Gen.Choose(1, 20)
         select new EceCase(seed, n, c, bins)).ToArbitrary();

    [Fact]
    public void Ece_lies_in_the_unit_interval()
    {
        Check.One(Config, Prop.ForAll(EceCases, k =>
        {
            var rng = new Xoshiro256StarStar(k.Seed);
            var probs = new double[k.N, k.Classes];
            var labels = new int[k.N];
            for (int i = 0; i < k.N; i++)
            {
                // A random distribution, sometimes sharpened to an almost one-hot row.
                double power = rng.Next(3) == 0 ? 8 : 1, sum = 0;
                for (int j = 0; j < k.Classes; j++) sum += probs[i, j] = Math.Pow(rng.NextDouble(), power);
                for (int j = 0; j < k.Classes; j++) probs[i, j] /= sum;
                labels[i] = rng.Next(k.Classes);
            }
            double ece = Calibration.ExpectedCalibrationError(probs, labels, k.Bins);
            return ece >= 0 && ece <= 1;
        }));
    }

    [Fact]
    public void Ece_is_zero_when_every_bin_is_perfectly_calibrated()
    {
        // Groups of n ≤ 12 examples with m correct, all at confidence m/n, so each group is calibrated. Distinct
        // fractions with denominators ≤ 12 differ by more than 1/132, so with ≥ 133 bins no two share a bin; groups
        // of equal fraction share one and stay calibrated together ((m + m')/(n + n') = m/n).
        var groups = Gen.Choose(1, 12).SelectMany(n => Gen.Choose(0, n).Select(m => (N: n, M: m))).NonEmptyListOf();
        Check.One(Config, Prop.ForAll(groups.ToArbitrary(), Gen.Choose(133, 400).ToArbitrary(), (gs, bins) =>
        {
            var confidences = gs.SelectMany(g => Enumerable.Repeat((double)g.M / g.N, g.N)).ToArray();
            var correct = gs.SelectMany(g => Enumerable.Range(0, g.N).Select(i => i < g.M)).ToArray();
            return Calibration.ExpectedCalibrationError(confidences, correct, bins) < 1e-12;
        }));
    }

    [Fact]
    public void Ece_of_two_class_probabilities_is_zero_when_calibrated()
    {
        // Rows [c, 1 − c] with c = m/n ≥ 1/2: m of the n examples have label 0 (the argmax), the rest label 1.
        var groups = Gen.Choose(1, 10).SelectMany(n => Gen.Choose((n + 1) / 2, n).Select(m => (N: n, M: m)));
        Check.One(Config, Prop.ForAll(groups.ToArbitrary(), g =>
        {
            double c = (double)g.M / g.N;
            if (c == 0.5) return true; // a tie: argmax is class 0 by convention, still calibrated; covered elsewhere
            var probs = new double[g.N, 2];
            var labels = new int[g.N];
            for (int i = 0; i < g.N; i++)
            {
                probs[i, 0] = c;
                probs[i, 1] = 1 - c;
                labels[i] = i < g.M ? 0 : 1;
            }
            return Calibration.ExpectedCalibrationError(probs, labels) < 1e-12;
        }));
    }

    [Fact]
    public void Bootstrap_interval_holds_the_estimate_of_a_mean()
    {
        var samples = (from seed in Gen.Choose(0, 100_000) from n in Gen.Choose(2, 40) select (seed, n)).ToArbitrary();
        Check.One(Config.WithMaxTest(50), Prop.ForAll(samples, s =>
        {
            var rng = new Xoshiro256StarStar(s.seed);
            var x = Enumerable.Range(0, s.n).Select(_ => rng.NextDouble()).ToArray();
            var i = Bootstrap.Mean(x, resamples: 400, seed: s.seed);
            return i.Lower <= i.Upper && i.Lower >= x.Min() && i.Upper <= x.Max();
        }));
    }
}
