using FsCheck;
using FsCheck.Fluent;
using Superalign.Students;
using Superalign.Supervision;
using TorchSharp;
using Xunit;
using static Superalign.Tests.Supervision.SupervisionTestKit;
using static TorchSharp.torch;

namespace Superalign.Tests.Supervision;

/// <summary>Every label supervisor returns soft labels [B, C] whose rows are distributions, and only them.</summary>
public sealed class SupervisorPropertyTests
{
    public sealed record Spec(int Seed, int B, int C);

    private static readonly Arbitrary<Spec> Specs =
        (from seed in Gen.Choose(0, 100_000)
         from b in Gen.Choose(1, 12)
         from c in Gen.Choose(2, 5)
         select new Spec(seed, b, c)).ToArbitrary();

    private const int F = 4;

    private static IEnumerable<ILabelSupervisor> Supervisors(Spec s, MlpClassifier weak, MlpClassifier other)
    {
        var w = Features(F, s.C, seed: s.Seed + 1); // in the caller's scope, like the supervisors' use of it
        var truth = new GroundTruthSupervisor(s.C, x => x.matmul(w.to(x.device)).argmax(1));
        var model = new ModelSupervisor(weak, temperature: 1 + s.Seed % 3);
        var peer = new ModelSupervisor(other);
        yield return truth;
        yield return model;
        yield return new NoisySupervisor(truth, 0.3, seed: s.Seed);
        yield return new NoisySupervisor(model, 0.5, seed: s.Seed);
        var members = new ILabelSupervisor[] { model, peer, truth };
        yield return new EnsembleSupervisor(members);
        yield return new EnsembleSupervisor(members, EnsembleCombination.MajorityVote);
        yield return new EnsembleSupervisor(members, EnsembleCombination.ConfidenceWeighted, ConfidenceMeasure.MaxProbability);
        yield return new EnsembleSupervisor(members, EnsembleCombination.ConfidenceWeighted, ConfidenceMeasure.InverseEntropy);
    }

    [Fact]
    public void Soft_label_rows_are_distributions_for_every_supervisor()
    {
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(25), Prop.ForAll(Specs, s =>
        {
            using var scope = NewDisposeScope();
            using var weak = new MlpClassifier(new MlpClassifierOptions(F, s.C, HiddenWidth: 8, Depth: 1, Seed: s.Seed), CPU);
            using var other = new MlpClassifier(new MlpClassifierOptions(F, s.C, HiddenWidth: 8, Depth: 2, Seed: s.Seed + 7), CPU);
            var x = Features(s.B, F, seed: s.Seed) * 3;
            foreach (var supervisor in Supervisors(s, weak, other))
            {
                var soft = LeavesOnly(1, () => supervisor.Label(x));
                Assert.Equal(new long[] { s.B, s.C }, soft.shape);
                Assert.True(soft.ge(0).all().ToBoolean(), $"{supervisor.Name}: negative probability");
                double worst = (soft.sum(1) - 1).abs().max().ToDouble();
                Assert.True(worst < 1e-5, $"{supervisor.Name}: a row sums to 1 ± {worst:E2}");
            }
            return true;
        }));
    }

    [Fact]
    public void Preferences_lie_in_the_unit_interval_and_are_antisymmetric()
    {
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(40), Prop.ForAll(Specs, s =>
        {
            using var scope = NewDisposeScope();
            var first = ResponseBatch.ForClassification(Features(s.B, 1, s.Seed), zeros(s.B, ScalarType.Int64));
            var second = ResponseBatch.ForClassification(Features(s.B, 1, s.Seed + 1), zeros(s.B, ScalarType.Int64));
            var judge = new ScoringPreferenceSupervisor(b => b.Inputs.select(1, 0), temperature: 0.5 * (s.Seed % 4));
            var p = LeavesOnly(1, () => judge.Prefer(first, second));
            var q = judge.Prefer(second, first);
            return p.ge(0).all().ToBoolean() && p.le(1).all().ToBoolean() && (p + q - 1).abs().max().ToDouble() < 1e-6;
        }));
    }
}
