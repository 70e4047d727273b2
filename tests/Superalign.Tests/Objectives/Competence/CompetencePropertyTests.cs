using FsCheck;
using FsCheck.Fluent;
using Superalign.Objectives.Competence;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Objectives.Competence;

/// <summary>FsCheck properties over random shapes and seeds (all floats come from seeded bounded generators).</summary>
public sealed class CompetencePropertyTests
{
    public sealed record Spec(int Seed, int B, int T, int V);

    // Shapes from 1×1×2 to 6×5×6; the seed drives bounded logits and labels (see CompetenceCase.Random).
    private static readonly Arbitrary<Spec> Specs =
        (from seed in Gen.Choose(0, 1_000_000)
         from b in Gen.Choose(1, 6)
         from t in Gen.Choose(1, 5)
         from v in Gen.Choose(2, 6)
         select new Spec(seed, b, t, v)).ToArbitrary();

    private static readonly Config Config = Config.QuickThrowOnFailure.WithMaxTest(60);

    private static double Loss(ICompetenceObjective objective, CompetenceCase k)
    {
        using var scope = NewDisposeScope();
        return objective.Loss(k.ToInput()).item<double>();
    }

    private static bool Close(double a, double b, double tol) => Math.Abs(a - b) <= tol * (1 + Math.Abs(a));

    [Fact]
    public void XentIsAtLeastTheLabelEntropyWithEqualityAtTheLabels()
    {
        Check.One(Config, Prop.ForAll(Specs, s =>
        {
            var k = CompetenceCase.Random(s.Seed, s.B, s.T, s.V);
            double entropy = ScalarReference.MaskedMean(k, i => ScalarReference.Entropy(k.SoftRow(i)));
            bool gibbs = Loss(new SoftCrossEntropyObjective(), k) >= entropy - 1e-12;
            // Equality: labels equal to the student's own softmax.
            var matched = k with { Soft = Enumerable.Range(0, k.Positions).SelectMany(i => CompetenceCase.Softmax(k.LogitRow(i))).ToArray() };
            double matchedEntropy = ScalarReference.MaskedMean(matched, i => ScalarReference.Entropy(matched.SoftRow(i)));
            return gibbs && Close(matchedEntropy, Loss(new SoftCrossEntropyObjective(), matched), 1e-10);
        }));
    }

    [Fact]
    public void LossesAreInvariantToShiftingALogitRow()
    {
        Check.One(Config, Prop.ForAll(Specs, s =>
        {
            var k = CompetenceCase.Random(s.Seed, s.B, s.T, s.V);
            var rng = new Random(s.Seed + 1);
            var shifts = Enumerable.Range(0, k.Positions).Select(_ => 100 * rng.NextDouble() - 50).ToArray();
            var shifted = k with { Logits = k.Logits.Select((z, j) => z + shifts[j / k.V]).ToArray() };
            return CompetenceReferenceTests.Objectives.All(o =>
                Close(Loss(o.Value.Create(), k), Loss(o.Value.Create(), shifted), 1e-9));
        }));
    }

    [Fact]
    public void MaskedPositionsDoNotAffectTheLoss()
    {
        Check.One(Config, Prop.ForAll(Specs, s =>
        {
            var k = CompetenceCase.Random(s.Seed, s.B, s.T, s.V);
            var other = CompetenceCase.Random(s.Seed + 7, s.B, s.T, s.V);
            // Everything at masked positions (logits, soft labels, targets) replaced, scaled logits included.
            double[] Mix(double[] a, double[] b, double scale) =>
                a.Select((x, j) => k.Mask[j / k.V] > 0 ? x : scale * b[j]).ToArray();
            var changed = k with
            {
                Logits = Mix(k.Logits, other.Logits, 10),
                Soft = Mix(k.Soft, other.Soft, 1),
                Targets = k.Targets.Select((x, i) => k.Mask[i] > 0 ? x : -7).ToArray(),
            };
            return CompetenceReferenceTests.Objectives.All(o =>
                Close(Loss(o.Value.Create(), k), Loss(o.Value.Create(), changed), 1e-12));
        }));
    }

    [Fact]
    public void ProductWithAlphaOneBetaZeroIsXent()
    {
        Check.One(Config, Prop.ForAll(Specs, s =>
        {
            var k = CompetenceCase.Random(s.Seed, s.B, s.T, s.V);
            return Close(Loss(new SoftCrossEntropyObjective(), k), Loss(new ProductObjective(alpha: 1, beta: 0), k), 1e-12);
        }));
    }

    [Fact]
    public void KlIsXentMinusLabelEntropyAndNonNegative()
    {
        Check.One(Config, Prop.ForAll(Specs, s =>
        {
            var k = CompetenceCase.Random(s.Seed, s.B, s.T, s.V);
            double kl = Loss(new KlObjective(), k);
            double entropy = ScalarReference.MaskedMean(k, i => ScalarReference.Entropy(k.SoftRow(i)));
            return kl >= -1e-12 && Close(Loss(new SoftCrossEntropyObjective(), k) - entropy, kl, 1e-10);
        }));
    }
}
