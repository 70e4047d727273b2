using Superalign.Supervision;
using Superalign.Experiments.Tasks;
using Superalign.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using static Superalign.Tests.Supervision.SupervisionTestKit;
using static TorchSharp.torch;

namespace Superalign.Tests.Experiments.Tasks;

public sealed class SparseEvidenceTaskTests
{
    [Fact]
    public void The_same_seed_gives_the_same_examples_and_another_seed_other_examples()
    {
        using var scope = NewDisposeScope();
        var task = new SparseEvidenceTask();
        var (x1, y1) = task.Generate(300, seed: 5);
        var (x2, y2) = new SparseEvidenceTask().Generate(300, seed: 5);
        var (x3, _) = task.Generate(300, seed: 6);

        Assert.Equal(new long[] { 300, 32 }, x1.shape);
        Assert.Equal(new long[] { 300 }, y1.shape);
        Assert.Equal(ScalarType.Float32, x1.dtype);
        Assert.Equal(ScalarType.Int64, y1.dtype);
        Assert.True(x1.eq(x2).all().ToBoolean(), "same seed, same features");
        Assert.True(y1.eq(y2).all().ToBoolean(), "same seed, same labels");
        Assert.False(x1.eq(x3).all().ToBoolean(), "another seed, other features");
    }

    [Fact]
    public void The_hidden_rule_depends_on_the_task_seed_only_and_splits_features_evenly()
    {
        var a = new SparseEvidenceTask(new SparseEvidenceTaskOptions(Seed: 3));
        var b = new SparseEvidenceTask(new SparseEvidenceTaskOptions(Seed: 3));
        var c = new SparseEvidenceTask(new SparseEvidenceTaskOptions(Seed: 4));

        Assert.Equal(a.FeatureClasses, b.FeatureClasses);
        Assert.Equal(a.FeatureWeights, b.FeatureWeights);
        Assert.NotEqual(a.FeatureClasses, c.FeatureClasses);
        Assert.All(Enumerable.Range(0, 4), k => Assert.Equal(8, a.FeatureClasses.Count(o => o == k)));
        Assert.All(a.FeatureWeights, w => Assert.InRange(w, 0.75f, 1.25f));
        Assert.Equal(64, a.JudgeInputWidth);
    }

    [Fact]
    public void Labels_are_the_rule_computed_by_hand()
    {
        using var scope = NewDisposeScope();
        var task = new SparseEvidenceTask(new SparseEvidenceTaskOptions(Features: 6, Classes: 3, EvidencePerExample: 1, Threshold: 1.0, Seed: 11));
        var rows = new[]
        {
            new[] { 2.0, 0, 0, 0, 0, 0 },
            new[] { 0.0, 0, 0, 0, 0, 3.5 },
            new[] { 1.8, 1.9, 1.7, 2.2, 0.4, -3 },
            new[] { 0.0, 0, 0, 0, 0, 0 },          // no class scores: the tie goes to class 0
            new[] { -5.0, 9, 1.0, 1.0, 1.2, 1.1 },
        };
        var expected = rows.Select(ByHand).ToArray();
        var x = tensor(rows.SelectMany(r => r).Select(v => (float)v).ToArray(), new long[] { rows.Length, 6 });

        Assert.Equal(expected, Longs(task.Label(x)));
        Assert.Equal(0, expected[3]);
        Assert.Equal(task.FeatureClasses[1], expected[4]);   // feature 1 (value 9) dominates

        long ByHand(double[] row)
        {
            var score = new double[3];
            for (int j = 0; j < 6; j++) score[task.FeatureClasses[j]] += task.FeatureWeights[j] * Math.Max(0, row[j] - 1.0);
            long best = 0;
            for (int c = 1; c < 3; c++) if (score[c] > score[best]) best = c;
            return best;
        }
    }

    [Fact]
    public void Evidence_is_sparse_a_random_reveal_rarely_shows_it()
    {
        using var scope = NewDisposeScope();
        var task = new SparseEvidenceTask();
        const int n = 4000;
        var (x, y) = task.Generate(n, seed: 21);
        var owners = tensor(task.FeatureClasses.ToArray());
        var ofLabel = owners.unsqueeze(0).eq(y.unsqueeze(1));                  // [n, D]
        var evidence = ofLabel.logical_and(x.gt(task.Options.Threshold));       // features that raise the label's score

        // Every example has evidence for its label, and only a few features carry it.
        Assert.True(evidence.any(1).all().ToBoolean(), "every label is backed by a feature above the threshold");
        double perExample = evidence.sum().ToDouble() / n;
        Assert.InRange(perExample, 2.5, 3.6);
        // Classes are balanced (drawn uniformly; the rule keeps the drawn class almost always).
        for (int c = 0; c < 4; c++) BinomialCount(y.eq(c).sum().ToInt64(), n, 0.25, $"class {c}");

        // A judge shown 4 random features meets evidence in about 1 − C(29,4)/C(32,4) ≈ 34% of the examples.
        using var g = new Generator(3, CPU);
        var mask = RevealEncoding.RandomMasks(n, 32, 4, g).gt(0.5);
        double seen = evidence.logical_and(mask).any(1).to_type(ScalarType.Float64).mean().ToDouble();
        Assert.InRange(seen, 0.28, 0.44);
    }

    [Fact]
    public void Reveal_encoding_is_values_where_revealed_then_the_mask()
    {
        using var scope = NewDisposeScope();
        var x = tensor(new float[] { 2, -1, 5, 0, 4, -3 }, new long[] { 2, 3 });
        var mask = tensor(new float[] { 1, 0, 1, 1, 1, 0 }, new long[] { 2, 3 });

        var encoded = RevealEncoding.Encode(x, mask);

        Assert.Equal(new long[] { 2, 6 }, encoded.shape);
        Assert.Equal(new float[] { 2, 0, 5, 1, 0, 1, 0, 4, 0, 1, 1, 0 }, Floats(encoded));
        // A boolean mask reads the same; a revealed 0 (row 1, feature 0) differs from a hidden one through the mask half.
        Assert.Equal(Floats(encoded), Floats(RevealEncoding.Encode(x, mask.gt(0.5))));
        Assert.Equal(6, RevealEncoding.Width(3));
        Assert.Equal("mask", Assert.Throws<ArgumentException>(() => RevealEncoding.Encode(x, ones(2, 4))).ParamName);
        Assert.Equal("features", Assert.Throws<ArgumentException>(() => RevealEncoding.Encode(ones(6), ones(6))).ParamName);
    }

    [Fact]
    public void Random_masks_reveal_exactly_k_features_uniformly()
    {
        using var scope = NewDisposeScope();
        const int rows = 6000, d = 6, k = 2;
        using var g1 = new Generator(9, CPU);
        using var g2 = new Generator(9, CPU);
        var masks = RevealEncoding.RandomMasks(rows, d, k, g1);

        Assert.True(masks.eq(RevealEncoding.RandomMasks(rows, d, k, g2)).all().ToBoolean(), "same generator seed, same masks");
        Assert.True(masks.sum(1).eq(k).all().ToBoolean(), "k ones per row");
        // Each of the C(6,2) = 15 pairs is equally likely.
        var values = Floats(masks);
        var counts = new Dictionary<(int, int), int>();
        for (int r = 0; r < rows; r++)
        {
            var on = Enumerable.Range(0, d).Where(j => values[r * d + j] == 1).ToArray();
            counts[(on[0], on[1])] = counts.GetValueOrDefault((on[0], on[1])) + 1;
        }
        Assert.Equal(15, counts.Count);
        foreach (var (pair, count) in counts) BinomialCount(count, rows, 1.0 / 15, $"pair {pair}");
        Assert.Equal("reveals", Assert.Throws<ArgumentOutOfRangeException>(() => RevealEncoding.RandomMasks(3, d, d + 1)).ParamName);
    }

    public static TheoryData<SparseEvidenceTaskOptions, string> InvalidOptions => new()
    {
        { new SparseEvidenceTaskOptions(Classes: 1), "Classes" },
        { new SparseEvidenceTaskOptions(Features: 3, Classes: 4), "Features" },
        { new SparseEvidenceTaskOptions(EvidencePerExample: 0), "EvidencePerExample" },
        { new SparseEvidenceTaskOptions(Features: 30, Classes: 4, EvidencePerExample: 8), "EvidencePerExample" },
        { new SparseEvidenceTaskOptions(Amplitude: 0), "Amplitude" },
        { new SparseEvidenceTaskOptions(Amplitude: double.NaN), "Amplitude" },
        { new SparseEvidenceTaskOptions(Threshold: -0.5), "Threshold" },
        { new SparseEvidenceTaskOptions(Threshold: double.PositiveInfinity), "Threshold" },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Invalid_options_name_the_option(SparseEvidenceTaskOptions options, string name)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new SparseEvidenceTask(options));
        Assert.Equal(name, e.ParamName);
        Assert.Contains(name, e.Message);
    }

    [Fact]
    public void Bad_arguments_name_the_parameter()
    {
        using var scope = NewDisposeScope();
        var task = new SparseEvidenceTask();
        Assert.Equal("n", Assert.Throws<ArgumentOutOfRangeException>(() => task.Generate(0, 1)).ParamName);
        Assert.Equal("features", Assert.Throws<ArgumentException>(() => task.Label(ones(2, 31))).ParamName);
        TorchAssert.Close(0, task.Scores(zeros(1, 32)).abs().sum().ToDouble(), absTol: 0, what: "no excess, no score");
    }
}
