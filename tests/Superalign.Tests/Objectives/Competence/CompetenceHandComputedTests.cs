using Superalign.Objectives.Competence;
using Superalign.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Objectives.Competence;

/// <summary>Small cases whose values are worked out by hand.</summary>
public sealed class CompetenceHandComputedTests
{
    /// <summary>A classifier input (T = 1) from per-example logits, soft labels and targets.</summary>
    private static CompetenceInput Classifier(double[][] logits, double[][]? soft = null, long[]? targets = null, double stepFraction = 1)
    {
        int b = logits.Length, v = logits[0].Length;
        return new CompetenceInput(
            tensor(logits.SelectMany(r => r).ToArray(), dtype: ScalarType.Float64).reshape(b, 1, v),
            tensor(targets ?? new long[b], dtype: ScalarType.Int64).reshape(b, 1),
            ones(b, 1, dtype: ScalarType.Float64),
            soft is null ? null : tensor(soft.SelectMany(r => r).ToArray(), dtype: ScalarType.Float64).reshape(b, v),
            new TrainingProgress((long)(stepFraction * 100), 100));
    }

    private static double Value(ICompetenceObjective objective, CompetenceInput input) => objective.Loss(input).item<double>();

    [Theory]
    [InlineData(2)]
    [InlineData(5)]
    [InlineData(50)]
    public void XentOfUniformStudentIsLogV(int v)
    {
        using var scope = NewDisposeScope();
        var rng = new Random(v);
        var soft = Enumerable.Range(0, 3).Select(_ => CompetenceCase.Softmax(Enumerable.Range(0, v).Select(_ => rng.NextDouble() * 4).ToArray())).ToArray();
        var input = Classifier(Enumerable.Range(0, 3).Select(_ => new double[v]).ToArray(), soft);
        TorchAssert.Close(Math.Log(v), Value(new SoftCrossEntropyObjective(), input), 1e-12);
        // And entropy with α = 1 is H(p) = ln V whatever the labels.
        TorchAssert.Close(Math.Log(v), Value(new EntropyObjective(alpha: 1), input), 1e-12);
    }

    [Fact]
    public void CrossEntropyOfKnownPredictions()
    {
        using var scope = NewDisposeScope();
        // p = (1/4, 3/4): CE to class 1 is −ln(3/4), to class 0 is ln 4; a near one-hot prediction costs ≈ 0 or ≈ 50.
        var known = Classifier([[0, Math.Log(3)], [0, Math.Log(3)]], targets: [1, 0]);
        double expected = (-Math.Log(0.75) + Math.Log(4)) / 2;
        TorchAssert.Close(expected, Value(new CrossEntropyObjective(), known), 1e-12);
        TorchAssert.Close(expected, Value(new TokenNllObjective(), known), 1e-12);
        var confident = Classifier([[50, 0, 0], [50, 0, 0]], targets: [0, 1]);
        double expectedConfident = (Math.Log(1 + 2 * Math.Exp(-50)) + 50 + Math.Log(1 + 2 * Math.Exp(-50))) / 2;
        TorchAssert.Close(expectedConfident, Value(new CrossEntropyObjective(), confident), 1e-12);
    }

    [Fact]
    public void LabelSmoothingMixesInTheMeanNll()
    {
        using var scope = NewDisposeScope();
        // p = (1/4, 3/4), target 1, ε = 0.2: 0.8·(−ln ¾) + 0.2·(ln 4 − ln ¾)/2.
        var input = Classifier([[0, Math.Log(3)]], targets: [1]);
        double expected = 0.8 * -Math.Log(0.75) + 0.2 * (Math.Log(4) - Math.Log(0.75)) / 2;
        TorchAssert.Close(expected, Value(new CrossEntropyObjective(labelSmoothing: 0.2), input), 1e-12);
    }

    [Fact]
    public void KlIsZeroWhenTheStudentMatchesAndXentMinusEntropyOtherwise()
    {
        using var scope = NewDisposeScope();
        double[] y = [0.2, 0.5, 0.3];
        var matched = Classifier([y.Select(x => Math.Log(x)).ToArray()], [y]);
        TorchAssert.Close(0, Value(new KlObjective(), matched), 1e-12);
        var uniform = Classifier([new double[3]], [y]);
        TorchAssert.Close(Math.Log(3) - ScalarReference.Entropy(y), Value(new KlObjective(), uniform), 1e-12);
    }

    [Fact]
    public void ProductTargetIsNormalisedProductOfStudentAndSupervisor()
    {
        using var scope = NewDisposeScope();
        // p = (1/4, 3/4), y = (3/4, 1/4): p ⊙ y = (3/16, 3/16) → t = (½, ½); loss = −½ ln ¼ − ½ ln ¾.
        var input = Classifier([[0, Math.Log(3)]], [[0.75, 0.25]]);
        TorchAssert.Close(-0.5 * Math.Log(0.25) - 0.5 * Math.Log(0.75), Value(new ProductObjective(), input), 1e-12);
    }

    [Fact]
    public void WarmupCoefficientRisesLinearly()
    {
        var logconf = new LogConfidenceObjective(alpha: 0.5, warmupFraction: 0.2);
        Assert.Equal(0, logconf.Coefficient(0));
        Assert.Equal(0.25, logconf.Coefficient(0.1), 12);
        Assert.Equal(0.5, logconf.Coefficient(0.2), 12);
        Assert.Equal(0.5, logconf.Coefficient(0.9), 12);
        Assert.Equal(0.75, new LogConfidenceObjective(alpha: 0.75, warmupFraction: 0).Coefficient(0), 12);
    }

    [Fact]
    public void LogConfWithZeroWeightEqualsXent()
    {
        using var scope = NewDisposeScope();
        var k = CompetenceCase.Random(5, 6, 1, 2) with { StepFraction = 0 };
        double xent = Value(new SoftCrossEntropyObjective(), k.ToInput());
        TorchAssert.Close(xent, Value(new LogConfidenceObjective(), k.ToInput()), 1e-12, what: "step 0 of warm-up");
        TorchAssert.Close(xent, Value(new LogConfidenceObjective(alpha: 0), (k with { StepFraction = 1 }).ToInput()), 1e-12, what: "alpha 0");
    }

    // p0 all above ½ (argmax says class 0 everywhere); the weak labels put 40% of their mass on class 1.
    private static readonly double[] P0 = [0.95, 0.9, 0.85, 0.7, 0.6];
    private static readonly double[] WeakY1 = [0.1, 0.2, 0.9, 0.6, 0.2];

    [Fact]
    public void BinaryHardeningKeepsTheWeakClassBalance()
    {
        using var scope = NewDisposeScope();
        // Sorted p0 = (.6, .7, .85, .9, .95); quantile at 0.4: position 1.6 → θ = .7 + .6·(.85 − .7) = .79.
        // Class 1 where p0 < θ: the last two examples, i.e. 2/5 = mean(y1), where argmax would give none.
        var input = Classifier(P0.Select(p => new[] { Math.Log(p), Math.Log(1 - p) }).ToArray(),
                               WeakY1.Select(y1 => new[] { 1 - y1, y1 }).ToArray());
        var hard = new LogConfidenceObjective().Harden(input.Logits.softmax(-1), input.SoftTargets!.unsqueeze(1), input.Mask);
        Assert.Equal(new double[] { 0, 0, 0, 1, 1 }, hard.select(-1, 1).reshape(-1).data<double>().ToArray());

        // With α = 1 and no warm-up the target is the hardened label itself.
        double expected = -(Math.Log(0.95) + Math.Log(0.9) + Math.Log(0.85) + Math.Log(0.3) + Math.Log(0.4)) / 5;
        TorchAssert.Close(expected, Value(new LogConfidenceObjective(alpha: 1, warmupFraction: 0), input), 1e-12);
        double argmax = -(Math.Log(0.95) + Math.Log(0.9) + Math.Log(0.85) + Math.Log(0.7) + Math.Log(0.6)) / 5;
        TorchAssert.Close(argmax, Value(new LogConfidenceObjective(1, 0, Hardening.Argmax), input), 1e-12);
    }

    [Fact]
    public void QuotasUseLargestRemainder()
    {
        Assert.Equal([3, 3, 4], LogConfidenceObjective.Quotas(10, [0.33, 0.33, 0.34]));
        Assert.Equal([3, 2], LogConfidenceObjective.Quotas(5, [0.5, 0.5]));
        Assert.Equal([0, 4, 0], LogConfidenceObjective.Quotas(4, [0, 1, 0]));
    }

    [Fact]
    public void GreedyAssignmentFillsQuotasByDescendingProbability()
    {
        // Quotas (2, 1, 1). Pairs by p: (0,c0) .7 takes c0; (1,c0) .6 takes c0 (full now); (2,c0) .5 skipped;
        // (3,c2) .5 takes c2; (2,c1) .4 takes c1. Argmax would put position 2 in class 0.
        double[] probs = [0.7, 0.2, 0.1, 0.6, 0.3, 0.1, 0.5, 0.4, 0.1, 0.4, 0.1, 0.5];
        Assert.Equal([0, 0, 1, 2], LogConfidenceObjective.AssignGreedy(probs, 4, 3, [2, 1, 1]));
    }

    [Fact]
    public void MarginalHardeningOfATensorBatch()
    {
        using var scope = NewDisposeScope();
        double[][] p = [[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.55, 0.4, 0.05], [0.4, 0.1, 0.5]];
        double[][] y = [[0.5, 0.25, 0.25], [0.5, 0.25, 0.25], [0.5, 0.25, 0.25], [0.5, 0.25, 0.25]];
        var input = Classifier(p.Select(r => r.Select(x => Math.Log(x)).ToArray()).ToArray(), y);
        var hard = new LogConfidenceObjective(hardening: Hardening.MatchWeakMarginals)
            .Harden(input.Logits.softmax(-1), input.SoftTargets!.unsqueeze(1), input.Mask);
        Assert.Equal(new long[] { 0, 0, 1, 2 }, hard.argmax(-1).reshape(-1).data<long>().ToArray());
        Assert.Equal(ScalarType.Float64, hard.dtype);
    }

    [Fact]
    public void MaskedLmEqualsClassifierOnItsScoredPositions()
    {
        using var scope = NewDisposeScope();
        // One sequence of 3 positions with only the middle one scored scores like a 1-example classifier.
        var single = CompetenceCase.Random(9, 1, 1, 4);
        var noise = CompetenceCase.Random(10, 1, 3, 4);
        var k = new CompetenceCase(1, 3, 4,
            [.. noise.LogitRow(0), .. single.Logits, .. noise.LogitRow(2)],
            [.. new double[4], .. single.Soft, .. noise.SoftRow(2)],
            [0, 1, 0], [-1, single.Targets[0], 99]);
        foreach (var (name, (create, _)) in CompetenceReferenceTests.Objectives)
            TorchAssert.Close(Value(create(), single.ToInput()), Value(create(), k.ToInput()), 1e-12, what: name);
    }

    [Fact]
    public void BatchWithoutScoredPositionsCostsNothing()
    {
        using var scope = NewDisposeScope();
        var k = CompetenceCase.Random(4, 2, 3, 3) with { Mask = new double[6] };
        foreach (var (name, (create, _)) in CompetenceReferenceTests.Objectives)
            Assert.True(Value(create(), k.ToInput()) == 0, name);
    }
}
