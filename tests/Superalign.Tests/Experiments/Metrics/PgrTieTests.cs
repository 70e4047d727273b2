using FsCheck;
using FsCheck.Fluent;
using MathNet.Numerics.Random;
using MathNet.Numerics.Statistics;
using Superalign.Experiments.Metrics;
using Xunit;

namespace Superalign.Tests.Experiments.Metrics;

/// <summary>
/// An exact tie between the weak model's and the ceiling's accuracy must be excluded from PGR, not turned into a gap of
/// a few 1e-16 by a running mean (which gave bootstrap intervals of ±1e13–1e14 on 8 of 120 weak-to-strong rows).
/// </summary>
public sealed class PgrTieTests
{
    // 39 of 55 correct for both, in different orders: MathNet's running mean rounds them 3.3e-16 apart.
    private static readonly double[] Weak = Bits("0100101101110110111011011111111111011110111101001101101");
    private static readonly double[] Ceiling = Bits("1110011011010100111101111111111001011110111111101110010");

    private static double[] Bits(string s) => s.Select(ch => ch == '1' ? 1.0 : 0.0).ToArray();

    [Fact]
    public void A_tie_that_a_running_mean_splits_is_excluded_and_the_interval_stays_within_n()
    {
        // The premise: the old path (Statistics.Mean) saw a positive gap between two equal accuracies.
        Assert.Equal(Weak.Sum(), Ceiling.Sum());
        Assert.InRange(Ceiling.Mean() - Weak.Mean(), 1e-16, 1e-15);

        var student = Enumerable.Repeat(1.0, Weak.Length).ToArray();
        var interval = Bootstrap.Pgr(Weak, student, Ceiling, resamples: 500, seed: 3);

        // The point estimate is the excluded tie (it was (1 − 39/55) / 3.3e-16 ≈ 9e14).
        Assert.True(double.IsNaN(interval.Estimate), $"estimate {interval.Estimate}");
        Assert.InRange(interval.Resamples, 1, 499); // some resamples tie (excluded), others have a gap
        Assert.InRange(interval.Lower, -Weak.Length, Weak.Length);
        Assert.InRange(interval.Upper, interval.Lower, Weak.Length);
    }

    [Fact]
    public void Exact_means_do_not_depend_on_the_order_of_the_examples()
    {
        Assert.Equal(ExactSum.Mean(Weak), ExactSum.Mean(Ceiling));
        Assert.Equal(39.0 / 55, ExactSum.Mean(Weak));
        // Cancellation a left-to-right sum gets wrong, and values of mixed magnitude.
        Assert.Equal(1.0, ExactSum.Of(new[] { 1e100, 1.0, -1e100 }));
        Assert.Equal(0.30000000000000004, ExactSum.Of(new[] { 0.1, 0.2 }));
        Assert.Equal(ExactSum.Of(new[] { 0.1, 0.7, 1e-20, 3.3 }), ExactSum.Of(new[] { 3.3, 1e-20, 0.7, 0.1 }));
        Assert.Equal(0.0, ExactSum.Of(Array.Empty<double>()));
    }

    public sealed record TieCase(int Seed, int N, bool Tie);

    private static readonly Arbitrary<TieCase> Cases =
        (from seed in Gen.Choose(0, 1_000_000)
         from n in Gen.Choose(1, 40)
         from tie in Gen.Elements(true, false)
         select new TieCase(seed, n, tie)).ToArbitrary();

    [Fact]
    public void Pgr_intervals_of_correctness_scores_are_finite_and_within_n()
    {
        // With 1/0 scores over n examples an included gap is at least 1/n and |student − weak| at most 1, so no PGR
        // (and no end of the interval) can leave [−n, n]. Half the cases give the ceiling a shuffle of the weak model's
        // scores (an exact tie on the full sample); small n makes ties on resamples common either way.
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(150), Prop.ForAll(Cases, k =>
        {
            var rng = new Xoshiro256StarStar(k.Seed);
            double[] Draw() => Enumerable.Range(0, k.N).Select(_ => rng.NextDouble() < 0.6 ? 1.0 : 0.0).ToArray();
            var weak = Draw();
            var student = Draw();
            var ceiling = k.Tie ? weak.OrderBy(_ => rng.Next()).ToArray() : Draw();
            var i = Bootstrap.Pgr(weak, student, ceiling, resamples: 200, seed: k.Seed);
            bool estimateOk = double.IsNaN(i.Estimate) || Math.Abs(i.Estimate) <= k.N;
            bool boundsOk = i.Resamples == 0
                ? double.IsNaN(i.Lower) && double.IsNaN(i.Upper)
                : double.IsFinite(i.Lower) && double.IsFinite(i.Upper) && -k.N <= i.Lower && i.Lower <= i.Upper && i.Upper <= k.N;
            bool tieExcluded = !k.Tie || double.IsNaN(i.Estimate);
            return estimateOk && boundsOk && tieExcluded;
        }));
    }
}
