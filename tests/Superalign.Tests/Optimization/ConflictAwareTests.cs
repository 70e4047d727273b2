using FsCheck;
using FsCheck.Fluent;
using Superalign.Data;
using Superalign.Objectives;
using Superalign.Optimization;
using Superalign.Students;
using Superalign.Tests.Experiments.Protocols;
using Superalign.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Optimization;

/// <summary>
/// Conflict diagnostics and conflict-aware gradient combination (PCGrad, MGDA): the math on hand-computed vectors and
/// FsCheck properties, then the optimizer's wiring against gradients computed here with autograd.
/// </summary>
public sealed class ConflictAwareTests : IDisposable
{
    private const int F = 6, C = 3, N = 96;

    // Tiny models on a small shared machine run several times faster on one thread; collections run serially.
    private readonly IDisposable _threads = TorchThreads.Single();

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
        var (pc, pf, projected) = TensorGradientConflict.ProjectConflicting(gc, gf);
        Assert.True(projected);
        Near(new[] { 0.5, 0.5 }, A(pc), what: "g_c'");
        Near(new[] { 0.0, 1.0 }, A(pf), what: "g_f'");

        var (d, combination) = TensorGradientConflict.Combine(gc, gf, 1, 1, ConflictMode.ProjectConflicting);
        Near(new[] { 0.5, 1.5 }, A(d), what: "d (weights 1, 1)");
        Assert.True(combination.Projected);
        // Weights scale the projected gradients: 2·(0.5, 0.5) + 0.5·(0, 1).
        (d, _) = TensorGradientConflict.Combine(gc, gf, 2, 0.5, ConflictMode.ProjectConflicting);
        Near(new[] { 1.0, 1.5 }, A(d), what: "d (weights 2, 0.5)");
    }

    [Fact]
    public void PcGrad_projects_conflicting_gradients_onto_each_others_normal_plane_3d()
    {
        using var scope = NewDisposeScope();
        // g_c·g_f = −2, |g_c|² = |g_f|² = 5: g_c' = g_c + 0.4 g_f = (0.2, 2, 0.4); g_f' = g_f + 0.4 g_c = (−1.6, 0.8, 1).
        var (gc, gf) = (V(1, 2, 0), V(-2, 0, 1));
        var (pc, pf, projected) = TensorGradientConflict.ProjectConflicting(gc, gf);
        Assert.True(projected);
        Near(new[] { 0.2, 2.0, 0.4 }, A(pc), what: "g_c'");
        Near(new[] { -1.6, 0.8, 1.0 }, A(pf), what: "g_f'");
        Assert.Equal(0, Dot(A(pc), A(gf)), 12);
        Assert.Equal(0, Dot(A(pf), A(gc)), 12);
        var (d, _) = TensorGradientConflict.Combine(gc, gf, 1, 1, ConflictMode.ProjectConflicting);
        Near(new[] { -1.4, 2.8, 1.4 }, A(d), what: "d");
    }

    [Theory]
    [InlineData(new double[] { 1, 2 }, new double[] { 3, -1 })]       // dot 1 > 0
    [InlineData(new double[] { 1, 0 }, new double[] { 0, 1 })]        // orthogonal: not a conflict
    [InlineData(new double[] { 1, 2, 3 }, new double[] { 0, 0, 0 })]  // zero gradient
    public void PcGrad_leaves_non_conflicting_gradients_alone(double[] c, double[] f)
    {
        using var scope = NewDisposeScope();
        var (pc, pf, projected) = TensorGradientConflict.ProjectConflicting(V(c), V(f));
        Assert.False(projected);
        Near(c, A(pc), what: "g_c'");
        Near(f, A(pf), what: "g_f'");
        var (d, combination) = TensorGradientConflict.Combine(V(c), V(f), 2, 0.5, ConflictMode.ProjectConflicting);
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
        var (d, combination) = TensorGradientConflict.Combine(V(c), V(f), 1, 1, ConflictMode.MinNorm);
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
        var (d, combination) = TensorGradientConflict.Combine(V(c), V(f), 1, 1, ConflictMode.MinNorm);
        Assert.Equal(alpha, combination.MinNormAlpha);
        Near(alpha == 1 ? c : f, A(d), what: "d");
    }

    [Fact]
    public void MinNorm_weights_scale_the_gradients_before_the_hull_and_equal_gradients_give_half()
    {
        using var scope = NewDisposeScope();
        // u = 2·(1,0), v = 1·(0,1): α* = 1/5 as for ((2,0), (0,1)); d = 0.2·u + 0.8·v.
        var (d, combination) = TensorGradientConflict.Combine(V(1, 0), V(0, 1), 2, 1, ConflictMode.MinNorm);
        Assert.Equal(0.2, combination.MinNormAlpha, 12);
        Assert.Equal(0.4, combination.CompetenceCoefficient, 12);
        Assert.Equal(0.8, combination.ConformityCoefficient, 12);
        Near(new[] { 0.4, 0.8 }, A(d), what: "d");
        (d, combination) = TensorGradientConflict.Combine(V(1, -2, 3), V(1, -2, 3), 1, 1, ConflictMode.MinNorm);
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
        var (d, _) = TensorGradientConflict.Combine(V(c), V(f), 1, 1, ConflictMode.MinNorm);
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
        var (d, combination) = TensorGradientConflict.Combine(V(1, 0, 2), V(-3, 1, 0), 0.25, 4, ConflictMode.None);
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
    public void PcGrad_projected_gradients_and_their_sum_do_not_oppose_the_originals()
    {
        Check.One(Config, Prop.ForAll(Pairs, p =>
        {
            using var scope = NewDisposeScope();
            var (pc, pf, _) = TensorGradientConflict.ProjectConflicting(V(p.C), V(p.F));
            double tol = 1e-6 * Norm(p.C) * Norm(p.F);
            double a = Dot(A(pc), p.F), b = Dot(A(pf), p.C);
            if (a < -tol || b < -tol) throw new Exception($"g_c'·g_f = {a}, g_f'·g_c = {b} (tol {tol})");
            // Hence, with two objectives, the weighted sum of the projections does not oppose either gradient.
            var (d, _) = TensorGradientConflict.Combine(V(p.C), V(p.F), 0.7, 1.3, ConflictMode.ProjectConflicting);
            double onC = Dot(A(d), p.C), onF = Dot(A(d), p.F), tolD = 1e-6 * (Dot(p.C, p.C) + Dot(p.F, p.F));
            if (onC < -tolD || onF < -tolD) throw new Exception($"d·g_c = {onC}, d·g_f = {onF}");
            return true;
        }));
    }

    [Fact]
    public void MinNorm_direction_does_not_increase_either_loss_to_first_order()
    {
        Check.One(Config, Prop.ForAll(Pairs, p =>
        {
            using var scope = NewDisposeScope();
            var (d, combination) = TensorGradientConflict.Combine(V(p.C), V(p.F), 1, 1, ConflictMode.MinNorm);
            var dd = A(d);
            double sq = Dot(dd, dd), tol = 1e-9 * (Dot(p.C, p.C) + Dot(p.F, p.F) + 1);
            double onC = Dot(dd, p.C), onF = Dot(dd, p.F);
            if (onC < sq - tol || onF < sq - tol || combination.MinNormAlpha is < 0 or > 1)
                throw new Exception($"|d|² = {sq}, d·g_c = {onC}, d·g_f = {onF}, α = {combination.MinNormAlpha}");
            return true;
        }));
    }

    // ---------------------------------------------------------------- the optimizer's wiring

    /// <summary>
    /// A toy task whose two objectives conflict: the preference pairs prefer the next class to the true one, so the
    /// DPO gradient lowers the very logit cross-entropy raises.
    /// </summary>
    private static (SupervisedDataset Sup, PreferenceDataset Pref) ConflictingData(long seed, IStudent reference)
    {
        var (x, y) = ToyData.Classification(N, F, C, seed);
        var next = (y + 1).remainder(C);
        return (SupervisedDataset.ForClassification(x, y), PreferenceDataset.ForClassification(x, next, y).WithReferenceLogProbs(reference));
    }

    /// <summary>The toy task of the optimizer tests: class 0 preferred to class 2 for every input (a partial conflict).</summary>
    private static (SupervisedDataset Sup, PreferenceDataset Pref) MildData(long seed, IStudent reference)
    {
        var (x, y) = ToyData.Classification(N, F, C, seed);
        var pref = PreferenceDataset.ForClassification(x, zeros(N, dtype: ScalarType.Int64), full(N, 2L, dtype: ScalarType.Int64));
        return (SupervisedDataset.ForClassification(x, y), pref.WithReferenceLogProbs(reference));
    }

    private static long[] Range(int start, int count) => Enumerable.Range(start, count).Select(i => (long)i).ToArray();

    private static Tensor CompetenceLossOf(IStudent s, SupervisedBatch b) =>
        new TestCrossEntropy().Loss(new CompetenceInput(s.Logits(b.Responses), b.Responses.Targets, b.Responses.Mask, null, default));

    private static Tensor ConformityLossOf(IStudent s, PreferenceBatch b)
    {
        var (pc, pr) = LogProbs.Pair(s, b);
        return new TestDpo().Compute(new PreferenceLogProbs(pc, pr, b.ReferenceChosen, b.ReferenceRejected, b.Chosen.Lengths(), b.Rejected.Lengths())).Loss;
    }

    /// <summary>The gradient of the mean of <paramref name="losses"/> w.r.t. the student's parameters, with autograd.</summary>
    private static double[] AutogradGradient(IStudent s, IEnumerable<Func<Tensor>> losses)
    {
        using var scope = NewDisposeScope();
        var ps = s.Parameters().Cast<Tensor>().ToList();
        var all = losses.ToList();
        var total = all.Select(l => l()).Aggregate((a, b) => a + b) / all.Count;
        var grads = torch.autograd.grad(new[] { total }, ps, allow_unused: true);
        return grads.Zip(ps, (g, p) => g is null ? new double[p.numel()] : A(g)).SelectMany(g => g).ToArray();
    }

    private static double[] Weights(IStudent s) => s.Parameters().SelectMany(p => A(p)).ToArray();

    private static double[] Grads(IStudent s) =>
        s.Parameters().SelectMany(p => p.grad is { } g ? A(g) : new double[p.numel()]).ToArray();

    public enum StepKind { Joint, Competence, Conformity, HalfWeightCompetence }

    /// <summary>Competence steps whose loss weight is 0.5: the step's gradient is 0.5·g_c.</summary>
    private sealed class HalfWeightCompetence : IAlternationSchedule
    {
        public PhasePlan Plan(long step, long totalSteps) => new(TrainingPhase.Competence, 0.5, 0);
    }

    [Theory]
    [InlineData(StepKind.Joint, true)]
    [InlineData(StepKind.Joint, false)]
    [InlineData(StepKind.Competence, true)]
    [InlineData(StepKind.Competence, false)]
    [InlineData(StepKind.Conformity, true)]
    [InlineData(StepKind.HalfWeightCompetence, true)]
    public void Reported_cosine_norms_and_dot_match_autograd(StepKind kind, bool flat)
    {
        using var scope = NewDisposeScope();
        using var student = new LinearTestStudent(F, C, seed: 3);
        using var reference = new LinearTestStudent(F, C, seed: 33);
        var (sup, pref) = MildData(3, reference);
        // Two micro-batches of 16 from each source the phase trains; a single-phase step borrows the first batch of the other.
        var c0 = sup.Select(Range(0, 16));
        var c1 = sup.Select(Range(16, 16));
        var f0 = pref.Select(Range(0, 16));
        var f1 = pref.Select(Range(16, 16));
        var gc = AutogradGradient(student, kind == StepKind.Conformity
            ? new Func<Tensor>[] { () => CompetenceLossOf(student, c0) }
            : new Func<Tensor>[] { () => CompetenceLossOf(student, c0), () => CompetenceLossOf(student, c1) });
        bool competenceStep = kind is StepKind.Competence or StepKind.HalfWeightCompetence;
        var gf = AutogradGradient(student, competenceStep
            ? new Func<Tensor>[] { () => ConformityLossOf(student, f0) }
            : new Func<Tensor>[] { () => ConformityLossOf(student, f0), () => ConformityLossOf(student, f1) });
        double cosine = Dot(gc, gf) / (Norm(gc) * Norm(gf));

        var schedule = kind switch
        {
            StepKind.Joint => AlternationSchedules.Joint(2.0, 0.5),
            StepKind.Competence => AlternationSchedules.CompetenceOnly(),
            StepKind.HalfWeightCompetence => new HalfWeightCompetence(),
            _ => AlternationSchedules.ConformityOnly(),
        };
        var options = new AlternatingOptimizerOptions
        {
            TotalSteps = 5, Schedule = schedule, ConflictDiagnostics = true, GradientAccumulationSteps = 2, FlatParameterBuffer = flat,
        };
        using var optimizer = new AlternatingOptimizer(student, new TestCrossEntropy(), new TestDpo(), options);
        var report = optimizer.Step(sup.Batches(16, shuffle: false), pref.Batches(16, shuffle: false));

        Assert.True(Math.Abs(cosine) > 0.05, $"the toy gradients should be far from orthogonal (cosine {cosine})");
        TorchAssert.Close(cosine, report.Metric(MetricNames.ConflictCosine), 1e-5, 0, "conflict/cosine");
        TorchAssert.Close(Norm(gc), report.Metric(MetricNames.ConflictCompetenceNorm), 1e-6, 1e-5, "conflict/competence_norm");
        TorchAssert.Close(Norm(gf), report.Metric(MetricNames.ConflictConformityNorm), 1e-6, 1e-5, "conflict/conformity_norm");
        TorchAssert.Close(Dot(gc, gf), report.Metric(MetricNames.ConflictDot), 1e-6, 1e-5, "conflict/dot");
        Assert.Contains("conflict/cosine=", report.ToString()); // the log line carries them
        Assert.False(report.Metrics.ContainsKey(MetricNames.ConflictProjected));
        Assert.False(report.Metrics.ContainsKey(MetricNames.ConflictMinNormAlpha));
        // A single-phase step reports only its own loss: the borrowed batch is not trained on.
        Assert.Equal(kind != StepKind.Conformity, report.CompetenceLoss.HasValue);
        Assert.Equal(!competenceStep, report.ConformityLoss.HasValue);
    }

    /// <summary>PCGrad and MGDA written out once more, independently of the library, on double arrays.</summary>
    private static (double[] D, bool Projected, double Alpha) Expected(double[] gc, double[] gf, double wc, double wf, ConflictMode mode)
    {
        double dot = Dot(gc, gf), cc = Dot(gc, gc), ff = Dot(gf, gf);
        switch (mode)
        {
            case ConflictMode.ProjectConflicting when dot < 0:
                var pc = gc.Zip(gf, (c, f) => c - dot / ff * f).ToArray();
                var pf = gf.Zip(gc, (f, c) => f - dot / cc * c).ToArray();
                return (pc.Zip(pf, (c, f) => wc * c + wf * f).ToArray(), true, double.NaN);
            case ConflictMode.MinNorm:
                var u = gc.Select(c => wc * c).ToArray();
                var v = gf.Select(f => wf * f).ToArray();
                var diff = u.Zip(v, (a, b) => a - b).ToArray();
                double alpha = Math.Clamp(Dot(v.Zip(u, (a, b) => a - b).ToArray(), v) / Dot(diff, diff), 0, 1);
                return (u.Zip(v, (a, b) => alpha * a + (1 - alpha) * b).ToArray(), false, alpha);
            default:
                return (gc.Zip(gf, (c, f) => wc * c + wf * f).ToArray(), false, double.NaN);
        }
    }

    [Theory]
    [InlineData(ConflictMode.ProjectConflicting, true, 0.0)]
    [InlineData(ConflictMode.ProjectConflicting, false, 0.0)]
    [InlineData(ConflictMode.ProjectConflicting, true, 1e-3)]
    [InlineData(ConflictMode.MinNorm, true, 0.0)]
    [InlineData(ConflictMode.MinNorm, false, 1e-3)]
    [InlineData(ConflictMode.None, true, 0.0)]
    [InlineData(ConflictMode.None, false, 0.0)]
    public void Joint_step_writes_the_combined_direction_then_clips_it(ConflictMode mode, bool flat, double maxNorm)
    {
        using var scope = NewDisposeScope();
        using var student = new LinearTestStudent(F, C, seed: 4);
        using var reference = new LinearTestStudent(F, C, seed: 44);
        var (sup, pref) = ConflictingData(4, reference);
        var c0 = sup.Select(Range(0, 32));
        var f0 = pref.Select(Range(0, 32));
        var gc = AutogradGradient(student, new Func<Tensor>[] { () => CompetenceLossOf(student, c0) });
        var gf = AutogradGradient(student, new Func<Tensor>[] { () => ConformityLossOf(student, f0) });
        const double wc = 2.0, wf = 0.5;
        var expected = Expected(gc, gf, wc, wf, mode);
        Assert.True(Dot(gc, gf) < 0, "the toy task's gradients should conflict");

        var options = new AlternatingOptimizerOptions
        {
            TotalSteps = 5, Schedule = AlternationSchedules.Joint(wc, wf), ConflictMode = mode,
            ConflictDiagnostics = mode == ConflictMode.None, MaxGradientNorm = maxNorm, FlatParameterBuffer = flat,
        };
        using var optimizer = new AlternatingOptimizer(student, new TestCrossEntropy(), new TestDpo(), options);
        var report = optimizer.Step(sup.Batches(32, shuffle: false), pref.Batches(32, shuffle: false));

        // The reported norm is |d| before clipping; the gradients the update used are d, clipped to maxNorm.
        double norm = Norm(expected.D);
        TorchAssert.Close(norm, report.GradientNorm, 1e-6, 1e-5, "gradient norm");
        double scale = maxNorm > 0 && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
        Near(expected.D.Select(x => x * scale).ToArray(), Grads(student), 1e-6 * Math.Max(1, scale * norm), "applied gradient");
        Assert.Equal(2.0 * report.CompetenceLoss!.Value + 0.5 * report.ConformityLoss!.Value, report.Loss, 6);
        TorchAssert.Close(Dot(gc, gf) / (Norm(gc) * Norm(gf)), report.Metric(MetricNames.ConflictCosine), 1e-5, 0, "conflict/cosine");
        switch (mode)
        {
            case ConflictMode.ProjectConflicting:
                Assert.Equal(1.0, report.Metric(MetricNames.ConflictProjected));
                Assert.True(expected.Projected);
                break;
            case ConflictMode.MinNorm:
                TorchAssert.Close(expected.Alpha, report.Metric(MetricNames.ConflictMinNormAlpha), 1e-5, 0, "conflict/mgda_alpha");
                Assert.InRange(expected.Alpha, 1e-3, 1 - 1e-3); // interior on this task: the clamp alone would not pass
                break;
        }
    }

    [Fact]
    public void PcGrad_reports_no_projection_when_the_gradients_agree()
    {
        using var scope = NewDisposeScope();
        using var student = new LinearTestStudent(F, C, seed: 5);
        using var reference = new LinearTestStudent(F, C, seed: 55);
        // Preferences for the true class over another: both objectives raise the true logit.
        var (x, y) = ToyData.Classification(N, F, C, 5);
        var sup = SupervisedDataset.ForClassification(x, y);
        var pref = PreferenceDataset.ForClassification(x, y, (y + 1).remainder(C)).WithReferenceLogProbs(reference);
        var options = new AlternatingOptimizerOptions { TotalSteps = 5, Schedule = AlternationSchedules.Joint(), ConflictMode = ConflictMode.ProjectConflicting, MaxGradientNorm = 0 };
        using var optimizer = new AlternatingOptimizer(student, new TestCrossEntropy(), new TestDpo(), options);
        var report = optimizer.Step(sup.Batches(32, shuffle: false), pref.Batches(32, shuffle: false));
        Assert.True(report.Metric(MetricNames.ConflictCosine) > 0);
        Assert.Equal(0.0, report.Metric(MetricNames.ConflictProjected));
    }

    /// <summary>
    /// The optimizer's step as it was before conflict handling existed, written out here over the same internal
    /// updaters: Σ_m (w_c·L_c + w_f·L_f)/N backpropagated once per micro-batch, clip, AdamW.
    /// </summary>
    private static double[] PlainWeightedSumRun(bool flat, IAlternationSchedule schedule, long totalSteps, int micro, long seed)
    {
        using var scope = NewDisposeScope();
        using var student = new LinearTestStudent(F, C, seed: seed);
        using var reference = new LinearTestStudent(F, C, seed: seed + 100);
        var (supData, prefData) = MildData(seed, reference);
        var sup = supData.Batches(16, seed: 1);
        var pref = prefData.Batches(16, seed: 2);
        var o = new AlternatingOptimizerOptions();
        var settings = new AdamWSettings(o.Beta1, o.Beta2, o.Epsilon, o.WeightDecay);
        using IParameterUpdater updater = flat ? new FlatAdamW(student.Parameters(), settings) : new TorchAdamW(student.Parameters(), o.LearningRate, settings);
        for (long step = 0; step < totalSteps; step++)
        {
            var plan = schedule.Plan(step, totalSteps);
            using var stepScope = NewDisposeScope();
            student.SetTraining(true);
            updater.ZeroGrad();
            for (int m = 0; m < micro; m++)
            {
                using var microScope = NewDisposeScope();
                Tensor? loss = null;
                if (plan.Phase != TrainingPhase.Conformity && plan.CompetenceWeight > 0)
                    loss = CompetenceLossOf(student, sup.Next()) * (plan.CompetenceWeight / micro);
                if (plan.Phase != TrainingPhase.Competence && plan.ConformityWeight > 0)
                {
                    var weighted = ConformityLossOf(student, pref.Next()) * (plan.ConformityWeight / micro);
                    loss = loss is null ? weighted : loss + weighted;
                }
                loss!.backward();
            }
            updater.ClipGradients(o.MaxGradientNorm);
            updater.Step(LearningRateSchedule.At(step, totalSteps, o.LearningRate, o.WarmupSteps, o.Decay, o.MinLearningRateRatio));
        }
        return Weights(student);
    }

    private static double[] OptimizerRun(bool flat, IAlternationSchedule schedule, long totalSteps, int micro, long seed,
        Func<AlternatingOptimizerOptions, AlternatingOptimizerOptions> configure, bool conformitySource = true)
    {
        using var scope = NewDisposeScope();
        using var student = new LinearTestStudent(F, C, seed: seed);
        using var reference = new LinearTestStudent(F, C, seed: seed + 100);
        var (supData, prefData) = MildData(seed, reference);
        var options = configure(new AlternatingOptimizerOptions
        {
            TotalSteps = totalSteps, Schedule = schedule, GradientAccumulationSteps = micro, FlatParameterBuffer = flat,
        });
        using var optimizer = new AlternatingOptimizer(student, new TestCrossEntropy(), new TestDpo(), options);
        optimizer.Train(supData.Batches(16, seed: 1), conformitySource ? prefData.Batches(16, seed: 2) : null);
        return Weights(student);
    }

    public static TheoryData<bool, string, int> PlainCases => new()
    {
        { true, "joint", 1 }, { true, "joint", 2 }, { true, "ratio", 2 },
        { false, "joint", 2 }, { false, "ratio", 1 },
    };

    private static IAlternationSchedule ScheduleNamed(string name) =>
        name == "joint" ? AlternationSchedules.Joint(0.7, 0.3) : AlternationSchedules.FixedRatio(2, 1);

    [Theory]
    [MemberData(nameof(PlainCases))]
    public void None_mode_without_diagnostics_is_bitwise_the_plain_weighted_sum_step(bool flat, string schedule, int micro)
    {
        var expected = PlainWeightedSumRun(flat, ScheduleNamed(schedule), 12, micro, seed: 6);
        var defaults = OptimizerRun(flat, ScheduleNamed(schedule), 12, micro, seed: 6, o => o);
        var explicitNone = OptimizerRun(flat, ScheduleNamed(schedule), 12, micro, seed: 6,
            o => o with { ConflictMode = ConflictMode.None, ConflictDiagnostics = false });
        Assert.Equal(expected, defaults);
        Assert.Equal(expected, explicitNone);
    }

    [Fact]
    public void None_mode_with_diagnostics_follows_the_plain_joint_run_up_to_rounding()
    {
        // Kept apart then summed, the gradients differ from the fused backward only in the last bits.
        var plain = OptimizerRun(true, AlternationSchedules.Joint(2.0, 0.5), 12, 2, seed: 7, o => o);
        var measured = OptimizerRun(true, AlternationSchedules.Joint(2.0, 0.5), 12, 2, seed: 7, o => o with { ConflictDiagnostics = true });
        Near(plain, measured, 1e-5, "weights");
    }

    [Fact]
    public void Diagnostics_leave_a_single_phase_update_bitwise_unchanged()
    {
        // On a competence-only schedule the borrowed conformity batches are measured, never trained on.
        var plain = OptimizerRun(true, AlternationSchedules.CompetenceOnly(), 10, 2, seed: 8, o => o);
        var measured = OptimizerRun(true, AlternationSchedules.CompetenceOnly(), 10, 2, seed: 8, o => o with { ConflictDiagnostics = true });
        Assert.Equal(plain, measured);
    }

    [Fact]
    public void Diagnostics_without_the_other_source_measure_nothing()
    {
        using var scope = NewDisposeScope();
        using var student = new LinearTestStudent(F, C, seed: 9);
        var (x, y) = ToyData.Classification(N, F, C, 9);
        var options = new AlternatingOptimizerOptions { TotalSteps = 3, Schedule = AlternationSchedules.CompetenceOnly(), ConflictDiagnostics = true };
        using (var optimizer = new AlternatingOptimizer(student, new TestCrossEntropy(), new TestDpo(), options))
        {
            var report = optimizer.Step(SupervisedDataset.ForClassification(x, y).Batches(16), null);
            Assert.DoesNotContain(report.Metrics.Keys, k => k.StartsWith("conflict/", StringComparison.Ordinal));
        }
        // No conformity objective either: the same.
        using (var optimizer = new AlternatingOptimizer(student, new TestCrossEntropy(), null, options))
        {
            var report = optimizer.Step(SupervisedDataset.ForClassification(x, y).Batches(16), null);
            Assert.DoesNotContain(report.Metrics.Keys, k => k.StartsWith("conflict/", StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData(ConflictMode.None)]
    [InlineData(ConflictMode.ProjectConflicting)]
    [InlineData(ConflictMode.MinNorm)]
    public void A_short_joint_run_lowers_both_losses_in_every_mode(ConflictMode mode)
    {
        using var scope = NewDisposeScope();
        using var student = new LinearTestStudent(F, C, seed: 10);
        using var reference = new LinearTestStudent(F, C, seed: 10);
        var (sup, pref) = MildData(10, reference);
        var allC = sup.Select(Range(0, N));
        var allF = pref.Select(Range(0, N));
        double LossC() { using var _ = no_grad(); return CompetenceLossOf(student, allC).ToDouble(); }
        double LossF() { using var _ = no_grad(); return ConformityLossOf(student, allF).ToDouble(); }
        double c0 = LossC(), f0 = LossF();

        var options = new AlternatingOptimizerOptions
        {
            TotalSteps = 80, LearningRate = 0.03, Schedule = AlternationSchedules.Joint(), ConflictMode = mode, ConflictDiagnostics = true,
        };
        using var optimizer = new AlternatingOptimizer(student, new TestCrossEntropy(), new TestDpo(), options);
        var reports = optimizer.Train(sup.Batches(32, seed: 1), pref.Batches(32, seed: 2));
        double c1 = LossC(), f1 = LossF();
        Assert.True(c1 < 0.9 * c0, $"{mode}: competence loss {c0:F4} -> {c1:F4}");
        Assert.True(f1 < 0.9 * f0, $"{mode}: conformity loss {f0:F4} -> {f1:F4}");
        Assert.All(reports, r => Assert.InRange(r.Metric(MetricNames.ConflictCosine), -1, 1));
        // The run must exercise what the mode does, or the test would not be about it.
        if (mode == ConflictMode.ProjectConflicting)
            Assert.Contains(reports, r => r.Metric(MetricNames.ConflictProjected) == 1);
        if (mode == ConflictMode.MinNorm)
            Assert.Contains(reports, r => r.Metric(MetricNames.ConflictMinNormAlpha) is > 0 and < 1);
    }

    [Fact]
    public void An_undefined_conflict_mode_is_rejected_naming_the_option()
    {
        using var student = new LinearTestStudent(F, C, seed: 1);
        var options = new AlternatingOptimizerOptions { TotalSteps = 10, ConflictMode = (ConflictMode)7 };
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new AlternatingOptimizer(student, new TestCrossEntropy(), null, options));
        Assert.Equal(nameof(AlternatingOptimizerOptions.ConflictMode), ex.ParamName);
        Assert.Contains("AlternatingOptimizerOptions.ConflictMode", ex.Message);
    }

    [Theory]
    [InlineData(ConflictMode.ProjectConflicting, "joint")]
    [InlineData(ConflictMode.MinNorm, "joint")]
    [InlineData(ConflictMode.None, "diagnostic")]
    public void Non_finite_loss_in_a_conflict_step_leaves_the_parameters_unchanged(ConflictMode mode, string where)
    {
        using var scope = NewDisposeScope();
        using var student = new LinearTestStudent(F, C, seed: 11);
        using var reference = new LinearTestStudent(F, C, seed: 111);
        var (sup, pref) = MildData(11, reference);
        var poisoned = new PoisonedObjective(new TestCrossEntropy());
        var options = new AlternatingOptimizerOptions
        {
            TotalSteps = 10, ConflictMode = mode, ConflictDiagnostics = true,
            Schedule = where == "joint" ? AlternationSchedules.Joint() : AlternationSchedules.ConformityOnly(),
        };
        using var optimizer = new AlternatingOptimizer(student, poisoned, new TestDpo(), options);
        var (s, p) = (sup.Batches(16), pref.Batches(16));
        optimizer.Step(s, p);
        var before = Weights(student);
        poisoned.Poison = true;
        var ex = Assert.Throws<NonFiniteLossException>(() => optimizer.Step(s, p));
        Assert.Contains("competence loss", ex.What);
        Assert.Equal(before, Weights(student));
        Assert.Equal(1, optimizer.StepsDone);
        poisoned.Poison = false;
        Assert.Equal(1, optimizer.Step(s, p).Step);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Conflict_steps_leave_no_live_tensors_behind(bool flat)
    {
        using var student = new LinearTestStudent(F, C, seed: 12);
        using var reference = new LinearTestStudent(F, C, seed: 112);
        var (sup, pref) = MildData(12, reference);
        var s = sup.Batches(16);
        var p = pref.Batches(16);
        var options = new AlternatingOptimizerOptions { TotalSteps = 100, FlatParameterBuffer = flat, ConflictDiagnostics = true };
        using var joint = new AlternatingOptimizer(student, new TestCrossEntropy(), new TestDpo(),
            options with { Schedule = AlternationSchedules.Joint(), ConflictMode = ConflictMode.ProjectConflicting });
        using var alternating = new AlternatingOptimizer(student, new TestCrossEntropy(), new TestDpo(),
            options with { Schedule = AlternationSchedules.FixedRatio(1, 1), ConflictMode = ConflictMode.MinNorm });
        for (int i = 0; i < 2; i++) { joint.Step(s, p); alternating.Step(s, p); } // AdamW state and gradients now exist
        // This thread's count: the global Tensor.TotalCount also moves when the finalizer collects other tests' garbage.
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 10; i++) { joint.Step(s, p); alternating.Step(s, p); }
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [CudaTheory]
    [InlineData(ConflictMode.ProjectConflicting, true)]
    [InlineData(ConflictMode.MinNorm, false)]
    public void Conflict_aware_steps_on_cuda_match_the_cpu(ConflictMode mode, bool flat)
    {
        using var scope = NewDisposeScope();
        var (x, y) = ToyData.Classification(128, F, C, seed: 13);
        var mlp = new MlpClassifierOptions(F, C, HiddenWidth: 16, Depth: 2, Seed: 3);
        var options = new AlternatingOptimizerOptions
        {
            TotalSteps = 8, LearningRate = 1e-2, FlatParameterBuffer = flat, ConflictMode = mode, ConflictDiagnostics = true,
            Schedule = AlternationSchedules.Joint(1.0, 0.5),
        };

        (IReadOnlyList<StepReport> Reports, Tensor[] Weights) Run(Device device)
        {
            using var student = new MlpClassifier(mlp, device);
            var sup = SupervisedDataset.ForClassification(x, y).Batches(32, seed: 1);
            var pref = PreferenceDataset.ForClassification(x, (y + 1).remainder(C), y).WithReferenceLogProbs(student.Clone()).Batches(32, seed: 2);
            using var optimizer = new AlternatingOptimizer(student, new TestCrossEntropy(), new TestDpo(), options);
            var reports = optimizer.Train(sup, pref);
            return (reports, student.Parameters().Select(p => p.detach().cpu().clone()).ToArray());
        }

        var cpu = Run(CPU);
        var cuda = Run(CUDA);
        foreach (var (a, b) in cpu.Reports.Zip(cuda.Reports))
        {
            TorchAssert.Close(a.Loss, b.Loss, 1e-4, 1e-4, $"loss of step {a.Step}");
            TorchAssert.Close(a.Metric(MetricNames.ConflictCosine), b.Metric(MetricNames.ConflictCosine), 1e-3, 0, $"cosine of step {a.Step}");
        }
        foreach (var (a, b) in cpu.Weights.Zip(cuda.Weights))
            TorchAssert.Close(a, b, 1e-4, 1e-3, "weights after training");
    }
}
