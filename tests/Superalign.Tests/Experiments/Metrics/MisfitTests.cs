using FsCheck;
using FsCheck.Fluent;
using MathNet.Numerics.Random;
using Superalign.Experiments.Metrics;
using Xunit;

namespace Superalign.Tests.Experiments.Metrics;

/// <summary>Misfit and Brier gain (Charikar et al. 2024) against hand-computed values and an algebraic identity.</summary>
public sealed class MisfitTests
{
    private static readonly double[][] Student = [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]];
    private static readonly double[][] Weak = [[0.5, 0.3, 0.2], [0.3, 0.3, 0.4]];
    private static readonly int[] Labels = [0, 2];

    [Fact]
    public void Misfit_and_brier_on_a_hand_computed_case()
    {
        // Misfit: row 0 0.2² + 0.1² + 0.1² = 0.06, row 1 0.2² + 0.5² + 0.3² = 0.38 → 0.22.
        Assert.Equal(0.22, Misfit.MeanSquaredDistance(Student, Weak), 12);
        Assert.Equal(0.22, Misfit.MeanSquaredDistance(Weak, Student), 12);
        // Brier of the weak model: (0.25 + 0.09 + 0.04 = 0.38, 0.09 + 0.09 + 0.36 = 0.54) → 0.46;
        // of the student: (0.09 + 0.04 + 0.01 = 0.14, 0.01 + 0.64 + 0.81 = 1.46) → 0.80. Gain −0.34 < misfit.
        Assert.Equal(0.46, Misfit.Brier(Weak, Labels), 12);
        Assert.Equal(0.80, Misfit.Brier(Student, Labels), 12);
        Assert.Equal(0, Misfit.MeanSquaredDistance(Weak, Weak));
        Assert.Equal(0, Misfit.Brier([[0.0, 1.0]], [1]));
        Assert.Equal(2, Misfit.Brier([[1.0, 0.0]], [1]), 12);
    }

    [Fact]
    public void Errors_name_the_parameter()
    {
        Assert.Equal("first", Assert.ThrowsAny<ArgumentException>(() => Misfit.MeanSquaredDistance([], [])).ParamName);
        Assert.Equal("second", Assert.ThrowsAny<ArgumentException>(() => Misfit.MeanSquaredDistance(Student, Weak[..1])).ParamName);
        Assert.Equal("second", Assert.ThrowsAny<ArgumentException>(() => Misfit.MeanSquaredDistance(Student, [[0.5, 0.5], [0.5, 0.5]])).ParamName);
        Assert.Equal("labels", Assert.ThrowsAny<ArgumentException>(() => Misfit.Brier(Student, [0, 3])).ParamName);
        Assert.Equal("labels", Assert.ThrowsAny<ArgumentException>(() => Misfit.Brier(Student, [0])).ParamName);
    }

    public sealed record Case(int Seed, int N, int Classes);

    private static readonly Arbitrary<Case> Cases =
        (from seed in Gen.Choose(0, 1_000_000) from n in Gen.Choose(1, 40) from c in Gen.Choose(2, 6) select new Case(seed, n, c)).ToArbitrary();

    private static double[][] Distributions(Random rng, int n, int c) =>
        Enumerable.Range(0, n).Select(_ =>
        {
            var row = Enumerable.Range(0, c).Select(_ => rng.NextDouble() + 1e-3).ToArray();
            double s = row.Sum();
            return row.Select(v => v / s).ToArray();
        }).ToArray();

    [Fact]
    public void Gain_minus_misfit_is_twice_the_mean_inner_product_of_weak_minus_student_and_student_minus_truth()
    {
        // ‖w − y‖² = ‖w − s‖² + ‖s − y‖² + 2(w − s)·(s − y), so gain − misfit = 2·mean (w − s)·(s − y): zero when the
        // student is the projection of the weak predictions (Charikar et al.'s equality case), negative when it overshoots.
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(200), Prop.ForAll(Cases, k =>
        {
            var rng = new Xoshiro256StarStar(k.Seed);
            var (s, w) = (Distributions(rng, k.N, k.Classes), Distributions(rng, k.N, k.Classes));
            var y = Enumerable.Range(0, k.N).Select(_ => rng.Next(k.Classes)).ToArray();
            double gain = Misfit.Brier(w, y) - Misfit.Brier(s, y);
            double misfit = Misfit.MeanSquaredDistance(s, w);
            double inner = Enumerable.Range(0, k.N).Average(i =>
                Enumerable.Range(0, k.Classes).Sum(c => (w[i][c] - s[i][c]) * (s[i][c] - (c == y[i] ? 1 : 0))));
            return Math.Abs(gain - misfit - 2 * inner) < 1e-12 && misfit >= 0 && Misfit.MeanSquaredDistance(w, s) == misfit;
        }));
    }
}
