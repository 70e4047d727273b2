using FsCheck;
using FsCheck.Fluent;
using Superalign.Objectives.Conformity;
using Superalign.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Objectives.Conformity;

public sealed class ConformityObjectiveTests
{
    public static readonly TheoryData<string> AllNames = new(ConformityObjectives.Names);

    private static PreferenceLogProbs Tensors(PairData d, ScalarType dtype = ScalarType.Float64, bool grad = false)
    {
        var pc = tensor(d.Pc, dtype);
        var pr = tensor(d.Pr, dtype);
        if (grad) { pc.requires_grad_(); pr.requires_grad_(); }
        return new PreferenceLogProbs(pc, pr, tensor(d.Rc, dtype), tensor(d.Rr, dtype), tensor(d.Lc, dtype), tensor(d.Lr, dtype));
    }

    // The factory's defaults, passed to the scalar implementation explicitly.
    private static double Beta(string name) => name == "simpo" ? 2.0 : 0.1;
    private static double Eps(string name) => name == "exo_pair" ? 1e-3 : 0;

    private static double Scalar(string name, PairData d, double? beta = null, double eps = -1) =>
        ScalarConformity.Loss(name, d, beta ?? Beta(name), eps < 0 ? Eps(name) : eps);

    [Theory]
    [InlineData(0.05)]
    [InlineData(0.1)]
    [InlineData(0.5)]
    [InlineData(2.0)]
    public void Closed_forms_at_policy_equal_to_reference(double beta)
    {
        using var scope = NewDisposeScope();
        var d = PairData.Random(7, seed: 3);
        var same = d with { Rc = d.Pc, Rr = d.Pr };
        var expected = new Dictionary<string, double>
        {
            ["sigmoid"] = Math.Log(2), ["hinge"] = 1, ["ipo"] = 1 / (4 * beta * beta), ["nca_pair"] = 2 * Math.Log(2),
            ["bco_pair"] = 2 * Math.Log(2), ["sppo_hard"] = 1 / (2 * beta * beta), ["apo_zero"] = 1, ["apo_down"] = 1,
            ["robust"] = Math.Log(2),
        };
        foreach (var (name, value) in expected)
        {
            double actual = ConformityObjectives.Create(name, beta).Compute(Tensors(same)).Loss.ToDouble();
            Assert.True(Math.Abs(actual - value) < 1e-9 * Math.Max(1, value), $"{name} at β={beta}: expected {value}, got {actual}");
        }
    }

    [Theory]
    [MemberData(nameof(AllNames))]
    public void Matches_the_independent_scalar_implementation(string name)
    {
        foreach (int seed in new[] { 1, 2, 3, 4 })
        {
            using var scope = NewDisposeScope();
            var d = PairData.Random(9, seed, scale: seed);
            double expected = Scalar(name, d);
            double actual = ConformityObjectives.Create(name).Compute(Tensors(d)).Loss.ToDouble();
            TorchAssert.Close(expected, actual, 1e-9, 1e-9, $"{name}, seed {seed} (float64)");
            double single = ConformityObjectives.Create(name).Compute(Tensors(d, ScalarType.Float32)).Loss.ToDouble();
            TorchAssert.Close(expected, single, 1e-4, 1e-4, $"{name}, seed {seed} (float32)");
        }
    }

    [Theory]
    [InlineData("sigmoid", 0.2)]
    [InlineData("robust", 0.2)]
    [InlineData("exo_pair", 0.05)]
    [InlineData("aot", 0.1)]
    [InlineData("aot_unpaired", 0.1)]
    [InlineData("simpo", 0.1)]
    [InlineData("cpo", 0.1)]
    public void Label_smoothing_matches_the_scalar_implementation(string name, double eps)
    {
        using var scope = NewDisposeScope();
        var d = PairData.Random(11, seed: 8);
        double actual = ConformityObjectives.Create(name, beta: 0.3, labelSmoothing: eps).Compute(Tensors(d)).Loss.ToDouble();
        TorchAssert.Close(ScalarConformity.Loss(name, d, 0.3, eps), actual, 1e-9, 1e-9, $"{name} with ε={eps}");
    }

    [Theory]
    [MemberData(nameof(AllNames))]
    public void Gradients_match_finite_differences_of_the_scalar_implementation(string name)
    {
        using var scope = NewDisposeScope();
        var d = PairData.Random(6, seed: 21, scale: 2);
        var logps = Tensors(d, grad: true);
        ConformityObjectives.Create(name).Compute(logps).Loss.backward();
        var gc = logps.PolicyChosen.grad!.data<double>().ToArray();
        var gr = logps.PolicyRejected.grad!.data<double>().ToArray();
        const double step = 1e-6;
        for (int i = 0; i < d.Count; i++)
        {
            foreach (var (array, grad, side) in new[] { (d.Pc, gc, "chosen"), (d.Pr, gr, "rejected") })
            {
                double saved = array[i];
                array[i] = saved + step;
                double up = Scalar(name, d);
                array[i] = saved - step;
                double down = Scalar(name, d);
                array[i] = saved;
                TorchAssert.Close((up - down) / (2 * step), grad[i], 1e-6, 1e-5, $"{name}: ∂L/∂π_{side}[{i}]");
            }
        }
    }

    [Fact]
    public void Dpo_gradient_in_the_margin_is_minus_beta_sigma_of_minus_beta_h()
    {
        using var scope = NewDisposeScope();
        const double beta = 0.3;
        var h = tensor(new[] { -4.0, -0.5, 0.0, 1.5, 9.0 }).requires_grad_();
        var zero = zeros(5, ScalarType.Float64);
        var logps = new PreferenceLogProbs(h, zero, zero, zero, ones(5, ScalarType.Float64), ones(5, ScalarType.Float64));
        new SigmoidDpo(beta).Compute(logps).Loss.backward();
        var grad = h.grad!.data<double>().ToArray();
        double[] hs = { -4.0, -0.5, 0.0, 1.5, 9.0 };
        for (int i = 0; i < 5; i++)
            TorchAssert.Close(-beta * ScalarConformity.Sig(-beta * hs[i]) / 5, grad[i], 1e-12, 1e-10, $"h = {hs[i]}");
    }

    [Theory]
    [MemberData(nameof(AllNames))]
    public void Extreme_inputs_give_finite_losses_and_gradients(string name)
    {
        foreach (double magnitude in new[] { 1e2, 1e3, 1e4 })
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64 })
        {
            using var scope = NewDisposeScope();
            var d = new PairData(new[] { -magnitude, -1e-9, -magnitude / 2, 0 }, new[] { -1e-9, -magnitude, -magnitude / 2, -magnitude },
                new[] { -1.0, -magnitude, -magnitude, -magnitude }, new[] { -magnitude, -1.0, 0.0, -1 }, new[] { 1.0, 5, 50, 1 }, new[] { 1.0, 2, 50, 3 });
            var logps = Tensors(d, dtype, grad: true);
            var result = ConformityObjectives.Create(name).Compute(logps);
            Assert.True(double.IsFinite(result.Loss.ToDouble()), $"{name} loss at |x| = {magnitude} ({dtype}): {result.Loss.ToDouble()}");
            result.Loss.backward();
            Assert.True(logps.PolicyChosen.grad!.isfinite().all().item<bool>() && logps.PolicyRejected.grad!.isfinite().all().item<bool>(),
                $"{name} gradient at |x| = {magnitude} ({dtype})");
        }
    }

    [Fact]
    public void Swapping_chosen_and_rejected_mirrors_the_margin_for_dpo()
    {
        Prop.ForAll(Gen.Choose(-4000, 4000).Select(i => i / 100.0).ToArbitrary(), Gen.Choose(1, 300).Select(i => i / 100.0).ToArbitrary(), (h, beta) =>
        {
            using var scope = NewDisposeScope();
            var dpo = new SigmoidDpo(beta);
            var zero = zeros(1, ScalarType.Float64);
            var one = ones(1, ScalarType.Float64);
            var ht = tensor(new[] { h });
            double forward = dpo.Compute(new PreferenceLogProbs(ht, zero, zero, zero, one, one)).Loss.ToDouble();
            double swapped = dpo.Compute(new PreferenceLogProbs(zero, ht, zero, zero, one, one)).Loss.ToDouble();
            // L(h) − L(−h) = −logσ(βh) + logσ(−βh) = −βh.
            return Math.Abs(forward - swapped + beta * h) < 1e-9 * Math.Max(1, Math.Abs(beta * h));
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Dpo_loss_decreases_monotonically_in_the_margin()
    {
        Prop.ForAll(Gen.Choose(-3000, 3000).Select(i => i / 100.0).ToArbitrary(), Gen.Choose(1, 500).Select(i => i / 100.0).ToArbitrary(), (h, delta) =>
        {
            using var scope = NewDisposeScope();
            var dpo = new SigmoidDpo(0.5);
            var zero = zeros(1, ScalarType.Float64);
            var one = ones(1, ScalarType.Float64);
            double low = dpo.Compute(new PreferenceLogProbs(tensor(new[] { h }), zero, zero, zero, one, one)).Loss.ToDouble();
            double high = dpo.Compute(new PreferenceLogProbs(tensor(new[] { h + delta }), zero, zero, zero, one, one)).Loss.ToDouble();
            return high < low;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Robust_at_zero_noise_equals_dpo_and_cdpo_matches_its_formula()
    {
        Prop.ForAll(Gen.Choose(1, 1000).ToArbitrary(), Gen.Choose(0, 49).Select(i => i / 100.0).ToArbitrary(), (seed, eps) =>
        {
            using var scope = NewDisposeScope();
            var d = PairData.Random(5, seed);
            var logps = Tensors(d);
            double dpo = new SigmoidDpo(0.2).Compute(logps).Loss.ToDouble();
            double robust = new RobustDpo(0.2, 0).Compute(logps).Loss.ToDouble();
            double cdpo = new SigmoidDpo(0.2, eps).Compute(logps).Loss.ToDouble();
            double explicitForm = 0;
            for (int i = 0; i < 5; i++)
            {
                double z = 0.2 * ((d.Pc[i] - d.Rc[i]) - (d.Pr[i] - d.Rr[i]));
                explicitForm += (-(1 - eps) * ScalarConformity.LogSig(z) - eps * ScalarConformity.LogSig(-z)) / 5;
            }
            return Math.Abs(dpo - robust) < 1e-12 && Math.Abs(cdpo - explicitForm) < 1e-9;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Rewards_are_beta_times_log_ratios_without_gradient_and_accuracy_is_in_range()
    {
        Prop.ForAll(Gen.Choose(1, 1000).ToArbitrary(), seed =>
        {
            using var scope = NewDisposeScope();
            var d = PairData.Random(8, seed);
            var result = new SigmoidDpo(0.25).Compute(Tensors(d, grad: true));
            var chosen = result.ChosenRewards.data<double>().ToArray();
            double accuracy = (result.ChosenRewards > result.RejectedRewards).to_type(ScalarType.Float64).mean().ToDouble();
            return !result.ChosenRewards.requires_grad
                && chosen.Select((c, i) => Math.Abs(c - 0.25 * (d.Pc[i] - d.Rc[i]))).Max() < 1e-12
                && accuracy >= 0 && accuracy <= 1;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Weighted_sum_equals_the_weighted_sum_of_its_parts()
    {
        using var scope = NewDisposeScope();
        var d = PairData.Random(10, seed: 5);
        var sum = new WeightedConformityObjective((new SigmoidDpo(0.1), 1.0), (new Ipo(0.1), 0.5), (new Cpo(0.1), 0.25));
        double expected = ScalarConformity.Loss("sigmoid", d, 0.1) + 0.5 * ScalarConformity.Loss("ipo", d, 0.1) + 0.25 * ScalarConformity.Loss("cpo", d, 0.1);
        var result = sum.Compute(Tensors(d));
        TorchAssert.Close(expected, result.Loss.ToDouble(), 1e-9, 1e-9, "weighted sum");
        Assert.Equal("sigmoid+0.5*ipo+0.25*cpo", sum.Name);
        Assert.True(sum.RequiresReference);
        Assert.Throws<ArgumentOutOfRangeException>(() => new WeightedConformityObjective((new SigmoidDpo(), -1.0)));
        Assert.Throws<ArgumentException>(() => new WeightedConformityObjective((new SigmoidDpo(), 0.0)));
    }

    [Theory]
    [MemberData(nameof(AllNames))]
    public void Factory_names_round_trip_and_reference_needs_are_declared(string name)
    {
        var objective = ConformityObjectives.Create(name.ToUpperInvariant());
        Assert.Equal(name, objective.Name);
        Assert.Equal(name is not ("simpo" or "cpo" or "orpo"), objective.RequiresReference);
    }

    [Fact]
    public void Unknown_names_and_out_of_range_hyper_parameters_give_clear_errors()
    {
        var unknown = Assert.Throws<ArgumentException>(() => ConformityObjectives.Create("kto_pair_typo"));
        Assert.Contains("sigmoid", unknown.Message);
        Assert.Contains("discopop", unknown.Message);
        Assert.Equal("beta", Assert.Throws<ArgumentOutOfRangeException>(() => ConformityObjectives.Create("sigmoid", beta: 0)).ParamName);
        Assert.Equal("beta", Assert.Throws<ArgumentOutOfRangeException>(() => ConformityObjectives.Create("hinge", beta: double.NaN)).ParamName);
        Assert.Equal("labelSmoothing", Assert.Throws<ArgumentOutOfRangeException>(() => new RobustDpo(0.1, 0.5)).ParamName);
        Assert.Equal("labelSmoothing", Assert.Throws<ArgumentOutOfRangeException>(() => new SigmoidDpo(0.1, 0.7)).ParamName);
        Assert.Equal("labelSmoothing", Assert.Throws<ArgumentOutOfRangeException>(() => new ExoPair(0.1, 1.0)).ParamName);
        Assert.Equal("tau", Assert.Throws<ArgumentOutOfRangeException>(() => new DiscoPop(0.1, 0)).ParamName);
        Assert.Equal("gamma", Assert.Throws<ArgumentOutOfRangeException>(() => new SimPo(2, -1)).ParamName);
        Assert.Equal("alpha", Assert.Throws<ArgumentOutOfRangeException>(() => new Cpo(0.1, -1)).ParamName);
    }

    [Theory]
    [MemberData(nameof(AllNames))]
    public void Missing_reference_log_probs_give_a_clear_error_only_where_needed(string name)
    {
        using var scope = NewDisposeScope();
        var d = PairData.Random(4, seed: 2);
        var full = Tensors(d);
        var noReference = full with { ReferenceChosen = null, ReferenceRejected = null };
        var objective = ConformityObjectives.Create(name);
        if (objective.RequiresReference)
            Assert.Contains("reference", Assert.Throws<InvalidOperationException>(() => objective.Compute(noReference)).Message);
        else
            Assert.Equal(objective.Compute(full).Loss.ToDouble(), objective.Compute(noReference).Loss.ToDouble());
    }

    [Theory]
    [MemberData(nameof(AllNames))]
    public void Conformity_steps_lower_the_objective_on_a_toy_preference_task(string name)
    {
        using var scope = NewDisposeScope();
        var (x, _) = ToyData.Classification(96, 6, 3, seed: 12);
        var chosen = zeros(96, dtype: ScalarType.Int64);
        var rejected = full(96, 2L, dtype: ScalarType.Int64);
        using var student = new LinearTestStudent(6, 3, seed: 13);
        var data = Superalign.Data.PreferenceDataset.ForClassification(x, chosen, rejected).WithReferenceLogProbs(student);
        var objective = ConformityObjectives.Create(name);
        double Loss()
        {
            using var inner = NewDisposeScope();
            using var _ = no_grad();
            var all = data.Select(Enumerable.Range(0, 96).Select(i => (long)i).ToArray());
            var (pc, pr) = Superalign.Objectives.LogProbs.Pair(student, all);
            return objective.Compute(new PreferenceLogProbs(pc, pr, all.ReferenceChosen, all.ReferenceRejected, ones(96), ones(96))).Loss.ToDouble();
        }
        double before = Loss();
        using var optimizer = new Superalign.Optimization.AlternatingOptimizer(student, null, objective,
            new Superalign.Optimization.AlternatingOptimizerOptions { TotalSteps = 30, LearningRate = 3e-2, Schedule = Superalign.Optimization.AlternationSchedules.ConformityOnly() });
        optimizer.Train(null, data.Batches(32, seed: 1));
        double after = Loss();
        Assert.True(after < before, $"{name}: {before} -> {after}");
    }
}
