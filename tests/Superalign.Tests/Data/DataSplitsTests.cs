using FsCheck;
using FsCheck.Fluent;
using Superalign.Data;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Data;

/// <summary>Train/test splits and feature standardisation for your own tabular data.</summary>
public sealed class DataSplitsTests
{
    private static readonly Config Config = Config.QuickThrowOnFailure.WithMaxTest(300);

    [Fact]
    public void A_split_has_the_rounded_test_share_is_seeded_and_keeps_the_row_order()
    {
        var (train, test) = DataSplits.TrainTestIndices(10, 0.25, seed: 7);
        Assert.Equal(3, test.Length); // ⌊10·0.25 + ½⌋ = 3
        Assert.Equal(7, train.Length);
        Assert.Equal(test.Order(), test);
        Assert.Empty(train.Intersect(test));
        var again = DataSplits.TrainTestIndices(10, 0.25, seed: 7);
        Assert.Equal(train, again.Train);
        Assert.Equal(test, again.Test);
        // Some seed moves the test rows (the first 3 shuffled indices of new Random(seed)).
        Assert.Contains(Enumerable.Range(0, 20), s => !DataSplits.TrainTestIndices(10, 0.25, s).Test.SequenceEqual(test));
        // At least one row on each side.
        Assert.Single(DataSplits.TrainTestIndices(2, 0.01, 0).Test);
        Assert.Single(DataSplits.TrainTestIndices(2, 0.99, 0).Train);
    }

    [Fact]
    public void A_stratified_split_keeps_each_class_share()
    {
        long[] labels = [0, 1, 0, 0, 0, 0, 1, 0, 0, 0];
        var (_, test) = DataSplits.TrainTestIndices(10, 0.5, seed: 3, labels);
        // k = 5: class 0 gets 5·8/10 = 4 test rows, class 1 gets 5·2/10 = 1.
        Assert.Equal(4, test.Count(i => labels[i] == 0));
        Assert.Equal(1, test.Count(i => labels[i] == 1));
        // Largest remainder: k = 3 over sizes 5, 3, 2 (n = 10): raw 1.5, 0.9, 0.6 → floors 1, 0, 0, the two left go to 0.9 and 0.6.
        Assert.Equal([1, 1, 1], DataSplits.Quotas(3, [5, 3, 2], 10));
    }

    [Fact]
    public void Every_split_is_a_partition_with_the_documented_sizes_and_class_quotas()
    {
        var cases = (from n in Gen.Choose(2, 300)
                     from thousandths in Gen.Choose(1, 999)
                     from seed in Gen.Choose(-1000, 1000)
                     from classes in Gen.Choose(0, 4) // 0: no stratification
                     from labels in Gen.ArrayOf(Gen.Choose(0, Math.Max(0, classes - 1)), n)
                     select (n, f: thousandths / 1000.0, seed, labels: classes == 0 ? null : labels.Select(l => (long)l).ToArray())).ToArbitrary();
        Check.One(Config, Prop.ForAll(cases, c =>
        {
            var (train, test) = DataSplits.TrainTestIndices(c.n, c.f, c.seed, c.labels);
            int k = (int)Math.Clamp(Math.Floor(c.n * c.f + 0.5), 1, c.n - 1);
            bool partition = train.Concat(test).Order().SequenceEqual(Enumerable.Range(0, c.n)) && !train.Intersect(test).Any()
                             && train.SequenceEqual(train.Order()) && test.SequenceEqual(test.Order());
            bool quotas = c.labels is null || c.labels.Distinct().All(l =>
            {
                int size = c.labels.Count(x => x == l);
                return Math.Abs(test.Count(i => c.labels[i] == l) - (double)k * size / c.n) < 1;
            });
            bool repeats = DataSplits.TrainTestIndices(c.n, c.f, c.seed, c.labels).Test.SequenceEqual(test);
            return partition && test.Length == k && quotas && repeats;
        }));
    }

    [Fact]
    public void A_table_split_keeps_rows_together_and_the_class_count()
    {
        using var scope = NewDisposeScope();
        // Feature = row index, label = index % 3: a row's label follows its feature.
        var table = new ClassificationTable(arange(30, dtype: ScalarType.Float32).reshape(30, 1), arange(30, dtype: ScalarType.Int64) % 3, ["i"], 4);
        var (train, test) = DataSplits.TrainTest(table, 0.2, seed: 1);
        Assert.Equal((24L, 6L), (train.Features.shape[0], test.Features.shape[0]));
        foreach (var part in new[] { train, test })
        {
            var rows = part.Features.reshape(-1).data<float>().ToArray();
            Assert.Equal(rows.Select(r => (long)r % 3), part.Labels.data<long>().ToArray());
            Assert.Equal(4, part.Classes);
            Assert.Equal(["i"], part.FeatureNames);
        }
        Assert.Equal([2, 2, 2], Enumerable.Range(0, 3).Select(c => test.Labels.data<long>().ToArray().Count(l => l == c)));
        Assert.Empty(train.Features.reshape(-1).data<float>().ToArray().Intersect(test.Features.reshape(-1).data<float>().ToArray()));
    }

    [Fact]
    public void Bad_split_arguments_name_the_parameter()
    {
        Assert.Equal("count", Assert.Throws<ArgumentOutOfRangeException>(() => DataSplits.TrainTestIndices(1, 0.5, 0)).ParamName);
        foreach (double f in new[] { 0, 1, double.NaN, -0.1 })
            Assert.Equal("testFraction", Assert.Throws<ArgumentOutOfRangeException>(() => DataSplits.TrainTestIndices(10, f, 0)).ParamName);
        Assert.Equal("labels", Assert.Throws<ArgumentException>(() => DataSplits.TrainTestIndices(10, 0.5, 0, [0, 1])).ParamName);
    }

    [Fact]
    public void Standardisation_matches_the_closed_form_fitted_on_train_only()
    {
        using var scope = NewDisposeScope();
        // Column 0: 1, 3, 5 (μ 3, σ² = 8/3); column 1 constant 5; column 2: 2, 4, 9 (μ 5, σ² = 26/3).
        var train = tensor(new float[] { 1, 5, 2, 3, 5, 4, 5, 5, 9 }, [3, 3]);
        var test = tensor(new float[] { 7, 6, 5, -1, 5, 0 }, [2, 3]);
        var s = FeatureStandardizer.Fit(train);
        Assert.Equal([3.0, 5.0, 5.0], s.Mean);
        Assert.Equal(Math.Sqrt(8.0 / 3), s.Scale[0], 12);
        Assert.Equal(1.0, s.Scale[1]); // constant column: no division by zero
        Assert.Equal(Math.Sqrt(26.0 / 3), s.Scale[2], 12);

        var z = s.Transform(train);
        Assert.Equal(ScalarType.Float32, z.dtype);
        var zd = z.to_type(ScalarType.Float64);
        var means = zd.mean([0]).data<double>().ToArray();
        var variances = (zd - zd.mean([0])).square().mean([0]).data<double>().ToArray();
        Assert.All(means, m => Assert.Equal(0, m, 6));
        Assert.Equal(1, variances[0], 6);
        Assert.Equal(0, variances[1], 12); // the constant column stays constant (all 0)
        Assert.Equal(1, variances[2], 6);

        // The test rows use the training statistics, not their own.
        var t = s.Transform(test).data<float>().ToArray();
        double[] expected = [(7 - 3) / Math.Sqrt(8.0 / 3), 6 - 5, (5 - 5) / Math.Sqrt(26.0 / 3), (-1 - 3) / Math.Sqrt(8.0 / 3), 0, (0 - 5) / Math.Sqrt(26.0 / 3)];
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], t[i], 5);

        var table = s.Transform(new ClassificationTable(test, tensor(new long[] { 0, 1 }), ["a", "b", "c"], 2));
        Assert.Equal(t, table.Features.data<float>().ToArray());
        Assert.Equal([0L, 1L], table.Labels.data<long>().ToArray());
    }

    [Fact]
    public void Standardisation_rejects_bad_input()
    {
        using var scope = NewDisposeScope();
        Assert.Throws<ArgumentException>(() => FeatureStandardizer.Fit(tensor(new float[] { 1, float.NaN }, [2, 1])));
        Assert.Throws<ArgumentException>(() => FeatureStandardizer.Fit(zeros(3)));
        Assert.Throws<ArgumentException>(() => FeatureStandardizer.Fit(zeros(0, 2)));
        var s = FeatureStandardizer.Fit(ones(4, 2));
        Assert.Throws<ArgumentException>(() => s.Transform(ones(4, 3)));
    }
}
