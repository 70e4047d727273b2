using Superalign.Data;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Data;

public sealed class CurriculumTests
{
    // A hand-made confidence vector: most to least confident is 4 (0.95), 0 (0.9), 2 (0.7), 5 (0.6), 3 (0.5), 1 (0.4).
    private static readonly double[] Confidence = [0.9, 0.4, 0.7, 0.5, 0.95, 0.6];

    [Fact]
    public void The_order_is_most_confident_first_with_ties_in_index_order()
    {
        Assert.Equal(new[] { 4, 0, 2, 5, 3, 1 }, Curriculum.Order(Confidence));
        Assert.Equal(new[] { 2, 0, 1, 3 }, Curriculum.Order([0.5, 0.5, 0.9, 0.1]));
        Assert.Throws<ArgumentException>(() => Curriculum.Order([]));
        Assert.Throws<ArgumentException>(() => Curriculum.Order([0.5, double.NaN]));
    }

    [Fact]
    public void Stages_split_training_and_the_examples_into_equal_thirds()
    {
        // 6 batches in 3 stages: two per stage; batches after the end stay in the last stage.
        Assert.Equal(new[] { 0, 0, 1, 1, 2, 2, 2 }, Enumerable.Range(0, 7).Select(b => Curriculum.StageOf(b, 6, 3)));
        // 10 batches: stage = ⌊3b/10⌋.
        Assert.Equal(new[] { 0, 0, 0, 0, 1, 1, 1, 2, 2, 2 }, Enumerable.Range(0, 10).Select(b => Curriculum.StageOf(b, 10, 3)));

        var order = Curriculum.Order(Confidence);
        Assert.Equal(new[] { 4, 0 }, Curriculum.Pool(order, 0, 3, CurriculumPacing.Cumulative));
        Assert.Equal(new[] { 4, 0, 2, 5 }, Curriculum.Pool(order, 1, 3, CurriculumPacing.Cumulative));
        Assert.Equal(new[] { 4, 0, 2, 5, 3, 1 }, Curriculum.Pool(order, 2, 3, CurriculumPacing.Cumulative));
        Assert.Equal(new[] { 4, 0 }, Curriculum.Pool(order, 0, 3, CurriculumPacing.Partitioned));
        Assert.Equal(new[] { 2, 5 }, Curriculum.Pool(order, 1, 3, CurriculumPacing.Partitioned));
        Assert.Equal(new[] { 3, 1 }, Curriculum.Pool(order, 2, 3, CurriculumPacing.Partitioned));
        // Uneven sizes: 7 examples in 3 buckets of ranks 0–1, 2–3, 4–6.
        var seven = Enumerable.Range(0, 7).ToArray();
        Assert.Equal(new[] { 2, 2, 3 }, Enumerable.Range(0, 3).Select(k => Curriculum.Pool(seven, k, 3, CurriculumPacing.Partitioned).Length));

        Assert.Throws<ArgumentOutOfRangeException>(() => Curriculum.Pool(order, 3, 3, CurriculumPacing.Cumulative));
        Assert.Throws<ArgumentOutOfRangeException>(() => Curriculum.Pool(order, 0, 7, CurriculumPacing.Cumulative));
        Assert.Throws<ArgumentOutOfRangeException>(() => Curriculum.StageOf(0, 0, 3));
    }

    [Fact]
    public void The_sampler_changes_pool_at_each_stage_boundary()
    {
        var sampler = new CurriculumSampler(Confidence, batchSize: 1, totalBatches: 6, stages: 3, CurriculumPacing.Partitioned, seed: 0);
        var drawn = Enumerable.Range(0, 6).Select(_ => (Index: sampler.NextIndices().Single(), sampler.Stage)).ToArray();
        Assert.Equal(new[] { 0, 0, 1, 1, 2, 2 }, drawn.Select(d => d.Stage));
        Assert.Equal(new long[] { 0, 4 }, drawn[..2].Select(d => d.Index).Order());
        Assert.Equal(new long[] { 2, 5 }, drawn[2..4].Select(d => d.Index).Order());
        Assert.Equal(new long[] { 1, 3 }, drawn[4..].Select(d => d.Index).Order());
    }

    [Fact]
    public void Confidence_is_the_largest_probability_of_each_row()
    {
        using var scope = NewDisposeScope();
        var soft = tensor(new[] { 0.7f, 0.2f, 0.1f, 0.3f, 0.3f, 0.4f }).reshape(2, 3);
        var c = Curriculum.Confidence(soft);
        Assert.Equal(0.7, c[0], 6);
        Assert.Equal(0.4, c[1], 6);
    }
}
