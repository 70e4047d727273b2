using FsCheck;
using FsCheck.Fluent;
using Superalign.Optimization;
using Superalign.Tests.Protocols;
using Superalign.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Optimization;

/// <summary>Conflict-aware gradient combination (PCGrad, MGDA): the math on hand-computed vectors and FsCheck properties.</summary>
public sealed class ConflictAwareTests : IDisposable
{
    private const int F = 6, C = 3, N = 96;

    // Tiny models on a small shared machine run several times faster on one thread; collections run serially.
    private readonly TorchThreads _threads = TorchThreads.Single();

    public void Dispose() => _threads.Dispose();

    // ---------------------------------------------------------------- the math, on hand-computed vectors

    private static Tensor V(params double[] xs) => tensor(xs, dtype: ScalarType.Float64);

    private static double[] A(Tensor t) => t.detach().to_type(ScalarType.Float64).cpu().data<double>().ToArray();

    private static double Dot(double[] a, double[] b) => a.Zip(b, (x, y) => x * y).Sum();

    private static double Norm(double[] a) => Math.Sqrt(Dot(a, a));

    private static void Near(double[] expected, double[] actual, double tol = 1e-12, string what = "vector")
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) TorchAssert.Close(expected[i], actual[i], tol, 0, $"{what}[{i}]");
    }

    [Fact]
    public void PcGrad_projects_conflicting_gradients_onto_each_others_normal_plane_2d()
    {
        using var scope = NewDisposeScope();
        // g_c·g_f = −1, |g_f|² = 2, |g_c|² = 1: g_c' = (1,0) − (−1/2)(−1,1) = (0.5, 0.5); g_f' = (−1,1) − (−1)(1,0) = (0, 1).
        var (gc, gf) = (V(1, 0), V(-1, 1));
        var (pc, pf, projected) = GradientConflict.ProjectConflicting(gc, gf);
        Assert.True(projected);
        Near(new[] { 0.5, 0.5 }, A(pc), what: "g_c'");
        Near(new[] { 0.0, 1.0 }, A(pf), what: "g_f'");

        var (d, combination) = GradientConflict.Combine(gc, gf, 1, 1, ConflictMode.ProjectConflicting);
        Near(new[] { 0.5, 1.5 }, A(d), what: "d (weights 1, 1)");
        Assert.True(combination.Projected);
        // Weights scale the projected gradients: 2·(0.5, 0.5) + 0.5·(0, 1).
        (d, _) = GradientConflict.Combine(gc, gf, 2, 0.5, ConflictMode.ProjectConflicting);
        Near(new[] { 1.0, 1.5 }, A(d), what: "d (weights 2, 0.5)");
    }

    [Fact]
    public void PcGrad_projects_conflicting_gradients_onto_each_others_normal_plane_3d()
    {
        using var scope = NewDisposeScope();
        // g_c·g_f = −2, |g_c|² = |g_f|² = 5: g_c' = g_c + 0.4 g_f = (0.2, 2, 0.4); g_f' = g_f + 0.4 g_c = (−1.6, 0.8, 1).
        var (gc, gf) = (V(1, 2, 0), V(-2, 0, 1));
        var (pc, pf, projected) = GradientConflict.ProjectConflicting(gc, gf);
        Assert.True(projected);
        Near(new[] { 0.2, 2.0, 0.4 }, A(pc), what: "g_c'");
        Near(new[] { -1.6, 0.8, 1.0 }, A(pf), what: "g_f'");
        Assert.Equal(0, Dot(A(pc), A(gf)), 12);
        Assert.Equal(0, Dot(A(pf), A(gc)), 12);
        var (d, _) = GradientConflict.Combine(gc, gf, 1, 1, ConflictMode.ProjectConflicting);
        Near(new[] { -1.4, 2.8, 1.4 }, A(d), what: "d");
    }

    [Theory]
    [InlineData(new double[] { 1, 2 }, new double[] { 3, -1 })]       // dot 1 > 0
    [InlineData(new double[] { 1, 0 }, new double[] { 0, 1 })]        // orthogonal: not a conflict
    [InlineData(new double[] { 1, 2, 3 }, new double[] { 0, 0, 0 })]  // zero gradient
    public void PcGrad_leaves_non_conflicting_gradients_alone(double[] c, double[] f)
    {
        using var scope = NewDisposeScope();
        var (pc, pf, projected) = GradientConflict.ProjectConflicting(V(c), V(f));
        Assert.False(projected);
        Near(c, A(pc), what: "g_c'");
        Near(f, A(pf), what: "g_f'");
        var (d, combination) = GradientConflict.Combine(V(c), V(f), 2, 0.5, ConflictMode.ProjectConflicting);
        Assert.False(combination.Projected);
        Near(c.Zip(f, (x, y) => 2 * x + 0.5 * y).ToArray(), A(d), what: "d = weighted sum");
    }

    [Theory]
    // α* = ((g_f − g_c)·g_f) / |g_c − g_f|²
    [InlineData(new double[] { 1, 0 }, new double[] { 0, 1 }, 0.5, new double[] { 0.5, 0.5 })]
    [InlineData(new double[] { 2, 0 }, new double[] { 0, 1 }, 0.2, new double[] { 0.4, 0.8 })]               // 1/5
    [InlineData(new double[] { 1, 1, 0 }, new double[] { -1, 1, 1 }, 0.6, new double[] { 0.2, 1, 0.4 })]     // 3/5
    public void MinNorm_interior_alpha_matches_the_hand_computation(double[] c, double[] f, double alpha, double[] expected)
    {
        using var scope = NewDisposeScope();
        var (d, combination) = GradientConflict.Combine(V(c), V(f), 1, 1, ConflictMode.MinNorm);
        Assert.Equal(alpha, combination.MinNormAlpha, 12);
        Near(expected, A(d), what: "d");
        // Interior: d is orthogonal to g_c − g_f, so d·g_c = d·g_f = |d|².
        var dd = A(d);
        Assert.Equal(Dot(dd, dd), Dot(dd, c), 12);
        Assert.Equal(Dot(dd, dd), Dot(dd, f), 12);
    }

    [Theory]
    // (g_f − g_c)·g_f = (2,1)·(3,1) = 7 > |g_c − g_f|² = 5: α* clamps to 1, d = g_c.
    [InlineData(new double[] { 1, 0 }, new double[] { 3, 1 }, 1.0)]
    // (g_f − g_c)·g_f = (−2,−1)·(1,0) = −2 < 0: α* clamps to 0, d = g_f.
    [InlineData(new double[] { 3, 1 }, new double[] { 1, 0 }, 0.0)]
    [InlineData(new double[] { 1, 2, 2 }, new double[] { 2, 4, 4 }, 1.0)]   // parallel: the shorter one
    public void MinNorm_alpha_is_clamped_to_the_unit_interval(double[] c, double[] f, double alpha)
    {
        using var scope = NewDisposeScope();
        var (d, combination) = GradientConflict.Combine(V(c), V(f), 1, 1, ConflictMode.MinNorm);
        Assert.Equal(alpha, combination.MinNormAlpha);
        Near(alpha == 1 ? c : f, A(d), what: "d");
    }

    [Fact]
    public void MinNorm_weights_scale_the_gradients_before_the_hull_and_equal_gradients_give_half()
    {
        using var scope = NewDisposeScope();
        // u = 2·(1,0), v = 1·(0,1): α* = 1/5 as for ((2,0), (0,1)); d = 0.2·u + 0.8·v.
        var (d, combination) = GradientConflict.Combine(V(1, 0), V(0, 1), 2, 1, ConflictMode.MinNorm);
        Assert.Equal(0.2, combination.MinNormAlpha, 12);
        Assert.Equal(0.4, combination.CompetenceCoefficient, 12);
        Assert.Equal(0.8, combination.ConformityCoefficient, 12);
        Near(new[] { 0.4, 0.8 }, A(d), what: "d");
        (d, combination) = GradientConflict.Combine(V(1, -2, 3), V(1, -2, 3), 1, 1, ConflictMode.MinNorm);
        Assert.Equal(0.5, combination.MinNormAlpha);
        Near(new[] { 1.0, -2, 3 }, A(d), what: "d of equal gradients");
    }

    [Theory]
    [InlineData(new double[] { 1, 0 }, new double[] { 0, 1 })]
    [InlineData(new double[] { 2, 0 }, new double[] { 0, 1 })]
    [InlineData(new double[] { 1, 0 }, new double[] { 3, 1 })]
    [InlineData(new double[] { 3, 1 }, new double[] { 1, 0 })]
    [InlineData(new double[] { 1, 1, 0 }, new double[] { -1, 1, 1 })]
    [InlineData(new double[] { 0.3, -2, 0.7 }, new double[] { -0.5, 1.5, 0.2 })]
    [InlineData(new double[] { 5, 1, -1 }, new double[] { -4, -1, 2 })]
    public void MinNorm_direction_has_the_least_norm_on_a_grid_over_the_hull(double[] c, double[] f)
    {
        using var scope = NewDisposeScope();
        var (d, _) = GradientConflict.Combine(V(c), V(f), 1, 1, ConflictMode.MinNorm);
        double norm = Norm(A(d));
        for (int k = 0; k <= 10_000; k++)
        {
            double alpha = k / 10_000.0;
            double grid = Norm(c.Zip(f, (x, y) => alpha * x + (1 - alpha) * y).ToArray());
            Assert.True(norm <= grid + 1e-12, $"|d| = {norm} but α = {alpha} gives {grid}");
        }
    }

    [Fact]
    public void None_is_the_weighted_sum()
    {
        using var scope = NewDisposeScope();
        var (d, combination) = GradientConflict.Combine(V(1, 0, 2), V(-3, 1, 0), 0.25, 4, ConflictMode.None);
        Near(new[] { 0.25 - 12, 4, 0.5 }, A(d), what: "d");
        Assert.False(combination.Projected);
        Assert.True(double.IsNaN(combination.MinNormAlpha));
    }

    // ---------------------------------------------------------------- FsCheck properties

    private static readonly Config Config = Config.QuickThrowOnFailure.WithMaxTest(300);

    /// <summary>Pairs of vectors of one dimension in 2..8, coordinates in [−10, 10] (from integers: no NaN or ∞).</summary>
    private static readonly Arbitrary<(double[] C, double[] F)> Pairs =
        (from n in Gen.Choose(2, 8)
         from c in Gen.Choose(-1000, 1000).ArrayOf(n)
         from f in Gen.Choose(-1000, 1000).ArrayOf(n)
         select (c.Select(x => x / 100.0).ToArray(), f.Select(x => x / 100.0).ToArray())).ToArbitrary();

    [Fact]
    public void PcGrad_projected_gradients_do_not_oppose_the_other_original()
    {
        Check.One(Config, Prop.ForAll(Pairs, p =>
        {
            using var scope = NewDisposeScope();
            var (pc, pf, _) = GradientConflict.ProjectConflicting(V(p.C), V(p.F));
            double tol = 1e-6 * Norm(p.C) * Norm(p.F);
            double a = Dot(A(pc), p.F), b = Dot(A(pf), p.C);
            if (a < -tol || b < -tol) throw new Exception($"g_c'·g_f = {a}, g_f'·g_c = {b} (tol {tol})");
            return true;
        }));
    }

    [Fact]
    public void MinNorm_direction_does_not_increase_either_loss_to_first_order()
    {
        Check.One(Config, Prop.ForAll(Pairs, p =>
        {
            using var scope = NewDisposeScope();
            var (d, combination) = GradientConflict.Combine(V(p.C), V(p.F), 1, 1, ConflictMode.MinNorm);
            var dd = A(d);
            double sq = Dot(dd, dd), tol = 1e-9 * (Dot(p.C, p.C) + Dot(p.F, p.F) + 1);
            double onC = Dot(dd, p.C), onF = Dot(dd, p.F);
            if (onC < sq - tol || onF < sq - tol || combination.MinNormAlpha is < 0 or > 1)
                throw new Exception($"|d|² = {sq}, d·g_c = {onC}, d·g_f = {onF}, α = {combination.MinNormAlpha}");
            return true;
        }));
    }
}
