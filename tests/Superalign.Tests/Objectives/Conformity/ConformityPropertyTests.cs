using FsCheck;
using FsCheck.Fluent;
using Superalign.Objectives;
using Superalign.Objectives.Conformity;
using Superalign.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Objectives.Conformity;

/// <summary>FsCheck properties of the conformity objectives (inputs are generated as integers / 100, so never NaN).</summary>
public class ConformityPropertyTests
{
    private static readonly Config Runs = Config.QuickThrowOnFailure.WithMaxTest(100);

    /// <summary>A log-prob in [−max, 0] in steps of 0.01, exactly 0 (a certain response) one time in ten.</summary>
    private static Gen<double> LogProb(double max) =>
        Gen.Frequency((1, Gen.Constant(0.0)), (9, Gen.Choose(-(int)(max * 100), 0).Select(i => i / 100.0)));

    private static Gen<double> Symmetric(double max) => Gen.Choose(-(int)(max * 100), (int)(max * 100)).Select(i => i / 100.0);

    private static readonly Gen<double> Betas = Gen.Elements(0.01, 0.1, 0.5, 1.0, 3.0);

    /// <summary>Batches of 1–8 pairs with log-probs in [−max, 0] and lengths 1–20.</summary>
    private static Gen<Pair[]> Pairs(double max) =>
        from n in Gen.Choose(1, 8)
        from ps in Gen.Zip(LogProb(max).Four(), Gen.Choose(1, 20).Two(),
                (v, l) => new Pair(v.Item1, v.Item2, v.Item3, v.Item4, l.Item1, l.Item2))
            .ArrayOf(n)
        select ps;

    private static double Loss(IConformityObjective objective, Pair[] pairs, ScalarType dtype = ScalarType.Float64)
    {
        using var scope = NewDisposeScope();
        return objective.Compute(Inputs.From(pairs, dtype)).Loss.ToDouble();
    }

    [Fact]
    public void Sigmoid_swapping_chosen_and_rejected_gives_the_loss_of_minus_h()
    {
        // Per pair −logσ(x) − (−logσ(−x)) = −x, so L(h) − L(swapped) = −β·mean(h), and L(swapped) is the loss at −h.
        Check.One(Runs, Prop.ForAll(Gen.Zip(Pairs(50), Betas).ToArbitrary(), t =>
        {
            var (pairs, beta) = t;
            var dpo = new SigmoidObjective(beta);
            double original = Loss(dpo, pairs), swapped = Loss(dpo, pairs.Select(p => p.Swapped()).ToArray());
            double atMinusH = pairs.Average(p => -ScalarConformity.LogSigmoid(-beta * p.H));
            double identity = -beta * pairs.Average(p => p.H);
            return Close(atMinusH, swapped, 1e-9) && Close(identity, original - swapped, 1e-9);
        }));
    }

    [Fact]
    public void Sigmoid_loss_decreases_monotonically_in_the_margin()
    {
        var gen = Gen.Zip(Gen.Zip(Symmetric(1e4), Symmetric(1e4)), Betas);
        Check.One(Runs, Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var ((h1, h2), beta) = t;
            if (h1 == h2) return true;
            double lo = Math.Min(h1, h2), hi = Math.Max(h1, h2);
            var dpo = new SigmoidObjective(beta);
            // The margin enters only through h = (πc − rc) − (πr − rr); put it on πc.
            double lossLo = Loss(dpo, [new Pair(lo - 5, -5, -5, -5)]);
            double lossHi = Loss(dpo, [new Pair(hi - 5, -5, -5, -5)]);
            // Strictly decreasing while float64 can still see the difference (σ(−βh) above ~1e-13).
            bool resolvable = beta * hi < 30;
            return resolvable ? lossHi < lossLo : lossHi <= lossLo;
        }));
    }

    [Fact]
    public void Robust_at_zero_flip_rate_equals_sigmoid()
    {
        Check.One(Runs, Prop.ForAll(Gen.Zip(Pairs(200), Betas).ToArbitrary(), t =>
            Loss(new RobustObjective(t.Item2, 0), t.Item1) == Loss(new SigmoidObjective(t.Item2), t.Item1)));
    }

    [Fact]
    public void Conservative_dpo_equals_its_explicit_formula()
    {
        var eps = Gen.Choose(0, 500).Select(i => i / 1000.0);
        Check.One(Runs, Prop.ForAll(Gen.Zip(Pairs(100), Gen.Zip(Betas, eps)).ToArbitrary(), t =>
        {
            var (pairs, (beta, e)) = t;
            double expected = pairs.Average(p => (1 - e) * -ScalarConformity.LogSigmoid(beta * p.H) + e * -ScalarConformity.LogSigmoid(-beta * p.H));
            return Close(expected, Loss(new SigmoidObjective(beta, e), pairs), 1e-9);
        }));
    }

    [Fact]
    public void Every_loss_and_gradient_is_finite_for_extreme_inputs()
    {
        // Log-probs down to −1e4 with independent references: |h| up to 2e4 and, with β = 3, |βh| up to 6e4.
        var gen = Gen.Zip(Gen.Zip(Pairs(1e4), Betas), Gen.Zip(Gen.Elements(ScalarConformity.Names), Gen.Elements(ScalarType.Float32, ScalarType.Float64)));
        Check.One(Runs.WithMaxTest(300), Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var ((pairs, beta), (name, dtype)) = t;
            var settings = new Settings(Beta: beta, Eps: 0.1, Lambda: beta);
            using var scope = NewDisposeScope();
            var logps = Inputs.From(pairs, dtype, requiresGrad: true);
            var result = ScalarConformity.Create(name, settings).Compute(logps);
            result.Loss.backward();
            return Finite(result.Loss) && Finite(result.ChosenRewards) && Finite(result.RejectedRewards)
                && Finite(logps.PolicyChosen.grad!) && Finite(logps.PolicyRejected.grad!);
        }));
    }

    [Fact]
    public void Reward_accuracies_and_margins_are_consistent_with_the_margins()
    {
        Check.One(Runs, Prop.ForAll(Gen.Zip(Pairs(100), Betas).ToArbitrary(), t =>
        {
            var (pairs, beta) = t;
            using var scope = NewDisposeScope();
            var result = new SigmoidObjective(beta).Compute(Inputs.From(pairs));
            var chosen = result.ChosenRewards;
            var rejected = result.RejectedRewards;
            // What the optimizer reports as rewards/accuracies and rewards/margins.
            double accuracy = (chosen > rejected).to_type(ScalarType.Float64).mean().ToDouble();
            double margin = (chosen - rejected).mean().ToDouble();
            double expectedAccuracy = pairs.Count(p => beta * p.Cl > beta * p.Rl) / (double)pairs.Length;
            return accuracy is >= 0 and <= 1
                && accuracy == expectedAccuracy
                && Close(beta * pairs.Average(p => p.H), margin, 1e-9);
        }));
    }

    [Fact]
    public void Weighted_sum_equals_the_weighted_sum_of_its_parts()
    {
        var weight = Gen.Choose(0, 300).Select(i => i / 100.0);
        var gen = Gen.Zip(Gen.Zip(Pairs(100), Gen.Elements(ScalarConformity.Names).Three()), weight.Three())
            .Where(t => t.Item2.Item1 + t.Item2.Item2 + t.Item2.Item3 > 0);
        Check.One(Runs, Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var ((pairs, (a, b, c)), (wa, wb, wc)) = t;
            var s = new Settings(Beta: 0.2);
            var parts = new[] { ScalarConformity.Create(a, s), ScalarConformity.Create(b, s), ScalarConformity.Create(c, s) };
            var weighted = new WeightedConformityObjective((parts[0], wa), (parts[1], wb), (parts[2], wc));
            double expected = wa * Loss(parts[0], pairs) + wb * Loss(parts[1], pairs) + wc * Loss(parts[2], pairs);
            using var scope = NewDisposeScope();
            var result = weighted.Compute(Inputs.From(pairs));
            var first = parts[0].Compute(Inputs.From(pairs));
            return Close(expected, result.Loss.ToDouble(), 1e-9)
                && Inputs.Values(result.ChosenRewards).SequenceEqual(Inputs.Values(first.ChosenRewards))
                && Inputs.Values(result.RejectedRewards).SequenceEqual(Inputs.Values(first.RejectedRewards));
        }));
    }

    private static bool Close(double expected, double actual, double tol) =>
        Math.Abs(expected - actual) <= tol * (1 + Math.Abs(expected));

    private static bool Finite(Tensor t) => Inputs.Values(t).All(double.IsFinite);
}
