using Superalign.Objectives;
using Superalign.Objectives.Conformity;
using Superalign.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Objectives.Conformity;

/// <summary>Every conformity objective against closed forms, an independent scalar implementation and finite differences.</summary>
public class ConformityObjectiveTests
{
    public static TheoryData<string> AllNames() => new(ScalarConformity.Names);

    public static TheoryData<string> ReferenceNames() => new(ScalarConformity.Names.Except(ScalarConformity.ReferenceFree));

    // ---- closed forms at policy = reference (h = cl = rl = 0) ----

    [Theory]
    [InlineData("sigmoid")]
    [InlineData("hinge")]
    [InlineData("ipo")]
    [InlineData("nca_pair")]
    [InlineData("bco_pair")]
    [InlineData("sppo_hard")]
    [InlineData("apo_zero")]
    [InlineData("apo_down")]
    [InlineData("robust")]
    public void Loss_at_policy_equal_to_reference_has_its_closed_form(string name)
    {
        foreach (double beta in new[] { 0.01, 0.1, 0.5, 2.0 })
        {
            double expected = name switch
            {
                "sigmoid" or "robust" => Math.Log(2),
                "hinge" or "apo_zero" or "apo_down" => 1,
                "ipo" => 1 / (4 * beta * beta),
                "nca_pair" or "bco_pair" => 2 * Math.Log(2),
                "sppo_hard" => 1 / (2 * beta * beta),
                _ => throw new ArgumentException(name),
            };
            // Any log-probs and lengths: only policy = reference matters.
            var pairs = Inputs.Random(7, seed: 11).Select(p => p with { Rc = p.Pc, Rr = p.Pr }).ToArray();
            var settings = new Settings(Beta: beta, Eps: name == "robust" ? 0.2 : 0);
            foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64 })
            {
                using var scope = NewDisposeScope();
                var result = ScalarConformity.Create(name, settings).Compute(Inputs.From(pairs, dtype));
                TorchAssert.Close(expected, result.Loss.ToDouble(), 1e-6, 1e-6, $"{name} β={beta} {dtype}");
                Assert.All(Inputs.Values(result.ChosenRewards).Concat(Inputs.Values(result.RejectedRewards)), r => Assert.Equal(0.0, r));
            }
        }
    }

    [Fact]
    public void Robust_at_policy_equal_to_reference_is_ln2_for_every_flip_rate()
    {
        // [−(1−ε)·logσ(0) + ε·logσ(0)] / (1 − 2ε) = ln2·(1 − 2ε)/(1 − 2ε).
        var pairs = new[] { new Pair(-3, -4, -3, -4) };
        foreach (double eps in new[] { 0.0, 0.1, 0.3, 0.45 })
            TorchAssert.Close(Math.Log(2), new RobustObjective(0.3, eps).Compute(Inputs.From(pairs)).Loss.ToDouble(), 1e-12, 0, $"ε={eps}");
    }

    // ---- independent scalar implementation ----

    [Theory]
    [MemberData(nameof(AllNames))]
    public void Loss_and_rewards_match_the_scalar_reference_in_float64(string name)
    {
        foreach (var (regime, seed, settings) in Scenarios())
        {
            var pairs = Inputs.Random(9, seed, regime);
            CompareWithReference(name, pairs, settings, ScalarType.Float64, absTol: 1e-9, relTol: 1e-9, $"{regime}/{seed}");
        }
    }

    [Theory]
    [MemberData(nameof(AllNames))]
    public void Loss_and_rewards_match_the_scalar_reference_in_float32(string name)
    {
        foreach (var (regime, seed, settings) in Scenarios())
        {
            var pairs = Inputs.AsStored(Inputs.Random(9, seed, regime), ScalarType.Float32);
            CompareWithReference(name, pairs, settings, ScalarType.Float32, absTol: 2e-5, relTol: 2e-5, $"{regime}/{seed}");
        }
    }

    private static IEnumerable<(string Regime, int Seed, Settings Settings)> Scenarios()
    {
        yield return ("typical", 1, new Settings());
        yield return ("typical", 2, new Settings(Beta: 0.5, Eps: 0.1, Gamma: 1.0, Alpha: 0.5, Lambda: 0.3, Tau: 0.2, ExoEps: 0.05));
        yield return ("typical", 3, new Settings(Beta: 2.0, Eps: 0.3, Gamma: 0.0, Alpha: 0.0, Lambda: 1.0, Tau: 1.0));
        yield return ("near", 4, new Settings(Beta: 1.0));
        yield return ("near", 5, new Settings(Beta: 0.2, Eps: 0.25, Lambda: 0.5));
        yield return ("certain", 9, new Settings(Beta: 1.0, Lambda: 0.5));
        yield return ("large", 6, new Settings());
        yield return ("large", 7, new Settings(Beta: 1.0, Eps: 0.1, Tau: 0.05));
        yield return ("large", 8, new Settings(Beta: 0.01, Tau: 3.0));
    }

    private static void CompareWithReference(string name, Pair[] pairs, Settings settings, ScalarType dtype, double absTol, double relTol, string what)
    {
        using var scope = NewDisposeScope();
        var (loss, chosen, rejected) = ScalarConformity.Expected(name, pairs, settings);
        var result = ScalarConformity.Create(name, settings).Compute(Inputs.From(pairs, dtype));
        Assert.Equal(dtype, result.Loss.dtype);
        Assert.Equal(0, result.Loss.dim());
        TorchAssert.Close(loss, result.Loss.ToDouble(), absTol, relTol, $"{name} loss ({what}, {dtype})");
        var c = Inputs.Values(result.ChosenRewards);
        var r = Inputs.Values(result.RejectedRewards);
        for (int i = 0; i < pairs.Length; i++)
        {
            TorchAssert.Close(chosen[i], c[i], absTol, relTol, $"{name} chosen reward {i} ({what}, {dtype})");
            TorchAssert.Close(rejected[i], r[i], absTol, relTol, $"{name} rejected reward {i} ({what}, {dtype})");
        }
    }

    [Fact]
    public void Log1mexp_keeps_its_digits_near_zero_and_far_from_it()
    {
        // Naive log(1 − eˣ) or log1p(−eˣ) loses every digit in float32 near x = 0 (eˣ rounds to 1 − 6e-8·k).
        var xs = new[] { -1e-7, -1e-6, -1e-5, -1e-4, -1e-3, -0.01, -0.5, -0.69, -0.7, -1, -5, -30, -100, -1e4 };
        // Relative tolerance, plus an absolute one below float32's normal range (e^−100 is a float32 denormal).
        foreach (var (dtype, tol, abs) in new[] { (ScalarType.Float32, 1e-6, 1e-40), (ScalarType.Float64, 1e-13, 1e-300) })
        {
            using var scope = NewDisposeScope();
            var stored = Inputs.AsStored(xs.Select(x => new Pair(x, 0, 0, 0)).ToArray(), dtype).Select(p => p.Pc).ToArray();
            var actual = Inputs.Values(ConformityMath.Log1mExp(Inputs.Column(stored, dtype)));
            for (int i = 0; i < xs.Length; i++)
                TorchAssert.Close(ScalarConformity.Log1mExp(stored[i]), actual[i], abs, tol, $"log1mexp({stored[i]:R}) {dtype}");
        }
    }

    // ---- gradients ----

    [Theory]
    [MemberData(nameof(AllNames))]
    public void Gradients_match_central_finite_differences(string name)
    {
        foreach (var (regime, seed, settings) in new[]
        {
            ("typical", 21, new Settings()),
            ("typical", 22, new Settings(Beta: 0.7, Eps: 0.2, Gamma: 0.3, Alpha: 0.4, Lambda: 0.8, Tau: 0.3, ExoEps: 0.1)),
            ("near", 23, new Settings(Beta: 0.5, Lambda: 0.5)),
        })
        {
            using var scope = NewDisposeScope();
            var pairs = Inputs.Random(6, seed, regime);
            var objective = ScalarConformity.Create(name, settings);
            var logps = Inputs.From(pairs, requiresGrad: true);
            var result = objective.Compute(logps);
            Assert.False(result.ChosenRewards.requires_grad, "rewards must be detached");
            Assert.False(result.RejectedRewards.requires_grad, "rewards must be detached");
            result.Loss.backward();
            var gc = Inputs.Values(logps.PolicyChosen.grad!);
            var gr = Inputs.Values(logps.PolicyRejected.grad!);

            double Loss(Pair[] ps)
            {
                using var inner = NewDisposeScope();
                using var _ = no_grad();
                return objective.Compute(Inputs.From(ps)).Loss.ToDouble();
            }
            for (int i = 0; i < pairs.Length; i++)
            {
                var p = pairs[i];
                double step = 1e-6 * Math.Max(1, Math.Abs(p.Pc));
                double fd = (Loss(With(pairs, i, p with { Pc = p.Pc + step })) - Loss(With(pairs, i, p with { Pc = p.Pc - step }))) / (2 * step);
                TorchAssert.Close(fd, gc[i], 1e-6, 1e-5, $"{name} ∂L/∂πc[{i}] ({regime}/{seed})");
                step = 1e-6 * Math.Max(1, Math.Abs(p.Pr));
                fd = (Loss(With(pairs, i, p with { Pr = p.Pr + step })) - Loss(With(pairs, i, p with { Pr = p.Pr - step }))) / (2 * step);
                TorchAssert.Close(fd, gr[i], 1e-6, 1e-5, $"{name} ∂L/∂πr[{i}] ({regime}/{seed})");
            }
        }
    }

    private static Pair[] With(Pair[] pairs, int i, Pair p)
    {
        var copy = (Pair[])pairs.Clone();
        copy[i] = p;
        return copy;
    }

    [Fact]
    public void Sigmoid_gradient_is_minus_beta_sigma_of_minus_beta_h_over_batch()
    {
        const double beta = 0.3;
        var pairs = Inputs.Random(8, seed: 31);
        using var scope = NewDisposeScope();
        var logps = Inputs.From(pairs, requiresGrad: true);
        new SigmoidObjective(beta).Compute(logps).Loss.backward();
        var gc = Inputs.Values(logps.PolicyChosen.grad!);
        var gr = Inputs.Values(logps.PolicyRejected.grad!);
        for (int i = 0; i < pairs.Length; i++)
        {
            // ∂/∂h of −logσ(βh) is −β·σ(−βh); h depends on πc with +1 and on πr with −1; the mean divides by B.
            double dh = -beta * ScalarConformity.Sigmoid(-beta * pairs[i].H) / pairs.Length;
            TorchAssert.Close(dh, gc[i], 1e-14, 1e-12, $"∂L/∂πc[{i}]");
            TorchAssert.Close(-dh, gr[i], 1e-14, 1e-12, $"∂L/∂πr[{i}]");
        }
    }

    [Fact]
    public void Discopop_and_orpo_gradients_stay_finite_where_the_naive_formulas_overflow()
    {
        using var scope = NewDisposeScope();
        // z = β·h = −2000: e^(−z) overflows even in float64; πc/|yc| = 0 and > 0 make ORPO's log odds infinite.
        var pairs = new[] { new Pair(-1e4, -1e-9, 1e4, -1e4), new Pair(0, 50, -1, -2), new Pair(-1e-12, -5e3, 0, 0) };
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64 })
            foreach (var objective in new IConformityObjective[] { new DiscopopObjective(0.1), new DiscopopObjective(0.1, tau: 5), new OrpoObjective(0.5) })
            {
                var logps = Inputs.From(pairs, dtype, requiresGrad: true);
                var loss = objective.Compute(logps).Loss;
                Assert.True(double.IsFinite(loss.ToDouble()), $"{objective.Name} loss {loss.ToDouble()} ({dtype})");
                loss.backward();
                Assert.All(Inputs.Values(logps.PolicyChosen.grad!).Concat(Inputs.Values(logps.PolicyRejected.grad!)),
                    g => Assert.True(double.IsFinite(g), $"{objective.Name} gradient {g} ({dtype})"));
            }
    }

    // ---- references, shapes, dtypes ----

    [Theory]
    [MemberData(nameof(ReferenceNames))]
    public void Objectives_that_need_a_reference_say_so_when_it_is_missing(string name)
    {
        var objective = ScalarConformity.Create(name, new Settings());
        Assert.True(objective.RequiresReference);
        using var scope = NewDisposeScope();
        var ex = Assert.Throws<InvalidOperationException>(() => objective.Compute(Inputs.From(Inputs.Random(4, 1), reference: false)));
        Assert.Contains("reference", ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("simpo")]
    [InlineData("cpo")]
    [InlineData("orpo")]
    public void Reference_free_objectives_ignore_a_missing_reference(string name)
    {
        var objective = ScalarConformity.Create(name, new Settings());
        Assert.False(objective.RequiresReference);
        using var scope = NewDisposeScope();
        var pairs = Inputs.Random(5, 2);
        double without = objective.Compute(Inputs.From(pairs, reference: false)).Loss.ToDouble();
        double with = objective.Compute(Inputs.From(pairs)).Loss.ToDouble();
        Assert.Equal(with, without);
        TorchAssert.Close(ScalarConformity.Expected(name, pairs, new Settings()).Loss, without, 1e-10, 1e-10);
    }

    [Fact]
    public void Mismatched_shapes_are_rejected_instead_of_broadcast()
    {
        using var scope = NewDisposeScope();
        var good = Inputs.From(Inputs.Random(4, 3));
        var ex = Assert.Throws<ArgumentException>(() => new SigmoidObjective().Compute(good with { ReferenceChosen = good.ReferenceChosen!.unsqueeze(1) }));
        Assert.Contains("ReferenceChosen", ex.Message);
        Assert.Throws<ArgumentException>(() => new SimpoObjective().Compute(good with { PolicyChosen = good.PolicyChosen.unsqueeze(1) }));
        Assert.Throws<ArgumentException>(() => new OrpoObjective().Compute(good with { RejectedLengths = good.RejectedLengths.narrow(0, 0, 2) }));
        Assert.Throws<ArgumentException>(() => new HingeObjective().Compute(Inputs.From(Array.Empty<Pair>())));
        Assert.Throws<ArgumentNullException>(() => new HingeObjective().Compute(null!));
    }

    [Theory]
    [InlineData("ipo")]
    [InlineData("simpo")]
    [InlineData("cpo")]
    [InlineData("orpo")]
    public void Integer_lengths_give_the_same_loss_as_float_lengths(string name)
    {
        using var scope = NewDisposeScope();
        var logps = Inputs.From(Inputs.Random(6, 4));
        var objective = ScalarConformity.Create(name, new Settings());
        double floats = objective.Compute(logps).Loss.ToDouble();
        double ints = objective.Compute(logps with
        {
            ChosenLengths = logps.ChosenLengths.to_type(ScalarType.Int64),
            RejectedLengths = logps.RejectedLengths.to_type(ScalarType.Int64),
        }).Loss.ToDouble();
        Assert.Equal(floats, ints);
    }

    [Fact]
    public void Aot_losses_depend_on_the_batch_only_through_sorted_values()
    {
        using var scope = NewDisposeScope();
        var pairs = Inputs.Random(10, 5);
        var shuffled = pairs.Reverse().ToArray();
        foreach (var objective in new IConformityObjective[] { new AotObjective(0.2), new AotUnpairedObjective(0.2) })
            TorchAssert.Close(objective.Compute(Inputs.From(pairs)).Loss.ToDouble(), objective.Compute(Inputs.From(shuffled)).Loss.ToDouble(), 1e-12, 1e-12, objective.Name);
        // Re-pairing chosen with other rejected responses leaves aot_unpaired unchanged but not the paired aot.
        var repaired = pairs.Select((p, i) => p with { Pr = pairs[(i + 3) % 10].Pr, Rr = pairs[(i + 3) % 10].Rr }).ToArray();
        var unpaired = new AotUnpairedObjective(0.2);
        TorchAssert.Close(unpaired.Compute(Inputs.From(pairs)).Loss.ToDouble(), unpaired.Compute(Inputs.From(repaired)).Loss.ToDouble(), 1e-12, 1e-12, "aot_unpaired re-paired");
        var paired = new AotObjective(0.2);
        Assert.NotEqual(paired.Compute(Inputs.From(pairs)).Loss.ToDouble(), paired.Compute(Inputs.From(repaired)).Loss.ToDouble(), 6);
    }

    // ---- lifetimes ----
    // Counted per thread: the global Tensor.TotalCount also drops when the finalizer collects other tests' garbage.

    [Theory]
    [MemberData(nameof(AllNames))]
    public void Compute_leaves_no_live_tensors_inside_a_dispose_scope(string name)
    {
        var objective = ScalarConformity.Create(name, new Settings());
        var logps = Inputs.From(Inputs.Random(6, 6), requiresGrad: true);
        objective.Compute(logps).Loss.Dispose(); // warm-up: lazily created native state is not a leak
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        using (var scope = NewDisposeScope())
        {
            var result = objective.Compute(logps);
            result.Loss.backward();
        }
        logps.PolicyChosen.grad?.Dispose();
        logps.PolicyRejected.grad?.Dispose();
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Theory]
    [MemberData(nameof(AllNames))]
    public void Compute_outside_a_scope_hands_over_exactly_its_three_results(string name)
    {
        var objective = ScalarConformity.Create(name, new Settings());
        var logps = Inputs.From(Inputs.Random(6, 7));
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var result = objective.Compute(logps);
        Assert.Equal(before + 3, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        result.Loss.Dispose();
        result.ChosenRewards.Dispose();
        result.RejectedRewards.Dispose();
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [CudaFact]
    public void Cuda_results_match_cpu()
    {
        var pairs = Inputs.Random(16, 8);
        foreach (string name in ScalarConformity.Names)
        {
            using var scope = NewDisposeScope();
            var objective = ScalarConformity.Create(name, new Settings(Beta: 0.3, Eps: 0.1));
            var cpu = objective.Compute(Inputs.From(pairs, ScalarType.Float32));
            var cuda = objective.Compute(Inputs.From(pairs, ScalarType.Float32, device: CUDA));
            Assert.Equal(DeviceType.CUDA, cuda.Loss.device_type);
            TorchAssert.Close(cpu.Loss.ToDouble(), cuda.Loss.ToDouble(), 1e-5, 1e-5, name);
            TorchAssert.Close(cpu.ChosenRewards, cuda.ChosenRewards, 1e-5, 1e-5, name);
        }
    }
}
