using Superalign.Experiments.Tasks;
using Superalign.Tests.Experiments.Protocols;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Experiments.Tasks;

public sealed class RepresentationTaskTests
{
    /// <summary>A quick task: short pretraining keeps each trunk well under a second.</summary>
    private static readonly RepresentationTaskOptions Quick = new() { PretrainSteps = 150 };

    private static readonly TrunkSpec Small = new(8, 1);

    private static float[] Values(Tensor t) => t.to_type(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();

    private static long[] Ids(Tensor t) => t.cpu().data<long>().ToArray();

    [Fact]
    public void Same_seed_gives_identical_data_and_trunks()
    {
        using var threads = TorchThreads.Single();
        using var scope = NewDisposeScope();
        using var first = new RepresentationTask(Quick with { Seed = 5 }, CPU);
        using var second = new RepresentationTask(Quick with { Seed = 5 }, CPU);
        var a = first.Sample(300, sampleSeed: 1);
        var b = second.Sample(300, sampleSeed: 1);

        Assert.Equal(Values(a.Features), Values(b.Features));
        Assert.Equal(Ids(a.Labels), Ids(b.Labels));
        Assert.Equal(Values(first.AuxiliaryTargets(a.Features)), Values(second.AuxiliaryTargets(b.Features)));
        using (no_grad())
            Assert.Equal(Values(first.Trunk(Small).call(a.Features)), Values(second.Trunk(Small).call(a.Features)));
        var (d1, d2) = (first.Trunk(Small).Diagnostics, second.Trunk(Small).Diagnostics);
        Assert.Equal((d1.AuxiliaryR2, d1.RepresentationR2, d1.FinalPretrainLoss), (d2.AuxiliaryR2, d2.RepresentationR2, d2.FinalPretrainLoss));
    }

    [Fact]
    public void Another_seed_gives_another_task()
    {
        using var threads = TorchThreads.Single();
        using var scope = NewDisposeScope();
        using var first = new RepresentationTask(Quick with { Seed = 5 }, CPU);
        using var second = new RepresentationTask(Quick with { Seed = 6 }, CPU);
        var x = first.Sample(500, sampleSeed: 1).Features;

        Assert.NotEqual(Values(x), Values(second.Sample(500, sampleSeed: 1).Features));
        // Same inputs, different ground truth: h* and the transfer head differ, so many labels differ.
        double same = (first.Labels(x) == second.Labels(x)).to_type(ScalarType.Float64).mean().ToDouble();
        Assert.InRange(same, 0, 0.8);
        using (no_grad())
            Assert.NotEqual(Values(first.Trunk(Small).call(x)), Values(second.Trunk(Small).call(x)));
    }

    [Fact]
    public void Sample_streams_are_independent_and_labels_follow_the_rule()
    {
        using var scope = NewDisposeScope();
        using var task = new RepresentationTask(Quick, CPU);
        var train = task.Sample(200, sampleSeed: 1);
        var test = task.Sample(200, sampleSeed: 2);

        Assert.NotEqual(Values(train.Features), Values(test.Features));
        Assert.Equal(Ids(task.Labels(train.Features)), Ids(train.Labels));
        Assert.Equal(new long[] { 200, 8 }, train.Features.shape);
        Assert.Equal(3, train.Classes);
        Assert.Equal(new[] { "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7" }, train.FeatureNames);
    }

    [Fact]
    public void Every_class_is_common()
    {
        using var scope = NewDisposeScope();
        using var task = new RepresentationTask(new RepresentationTaskOptions { Classes = 4, Seed = 2 }, CPU);
        var labels = Ids(task.Sample(8000, sampleSeed: 3).Labels);
        for (int c = 0; c < 4; c++)
            Assert.InRange(labels.Count(l => l == c) / 8000.0, 0.08, 0.6);
    }

    [Fact]
    public void Representation_is_standardised()
    {
        using var scope = NewDisposeScope();
        using var task = new RepresentationTask(Quick, CPU);
        var h = task.Representation(task.Sample(20000, sampleSeed: 9).Features);
        Assert.Equal(new long[] { 20000, 8 }, h.shape);
        foreach (var m in Values(h.mean(new long[] { 0 }))) Assert.InRange(m, -0.05, 0.05);
        foreach (var s in Values(h.std(new long[] { 0 }))) Assert.InRange(s, 0.95, 1.05);
    }

    [Fact]
    public void The_task_and_its_cached_trunks_survive_the_callers_dispose_scope()
    {
        using var threads = TorchThreads.Single();
        RepresentationTask made;
        RepresentationTrunk trunk;
        using (NewDisposeScope())
        {
            made = new RepresentationTask(Quick, CPU);
            trunk = made.Trunk(Small);
        }
        using var task = made;

        Assert.Same(trunk, task.Trunk(new TrunkSpec(8, 1)));
        Assert.NotSame(trunk, task.Trunk(Small with { Seed = 1 }));
        Assert.Equal(2, task.PretrainedTrunks.Count);
        Assert.All(trunk.parameters(), p => Assert.False(p.requires_grad));
        Assert.False(trunk.training);
        using var scope = NewDisposeScope();
        var x = task.Sample(4000, sampleSeed: 4).Features;
        using (no_grad())
        {
            // Still alive after the scope it was made in ended, and standardised: mean 0, variance 1 per live unit.
            var features = trunk.call(x);
            Assert.Equal(new long[] { 4000, 8 }, features.shape);
            foreach (var m in Values(features.mean(new long[] { 0 }))) Assert.InRange(m, -0.1, 0.1);
            Assert.NotEqual(Values(features), Values(task.Trunk(Small with { Seed = 1 }).call(x)));
        }
    }

    [Fact]
    public void Deep_wide_trunks_learn_the_representation_better_than_shallow_narrow_ones()
    {
        using var threads = TorchThreads.Single();
        using var task = new RepresentationTask(new RepresentationTaskOptions(), CPU);
        var weak = task.Trunk(new TrunkSpec(8, 1)).Diagnostics;
        var strong = task.Trunk(new TrunkSpec(64, 3)).Diagnostics;

        Assert.InRange(weak.RepresentationR2, 0.3, 0.9);
        Assert.True(strong.RepresentationR2 > 0.95, $"strong trunk R² of h* {strong.RepresentationR2:F3}");
        Assert.True(strong.RepresentationR2 > weak.RepresentationR2 + 0.1, $"{strong.RepresentationR2:F3} vs {weak.RepresentationR2:F3}");
        Assert.True(strong.AuxiliaryR2 > weak.AuxiliaryR2 + 0.1, $"{strong.AuxiliaryR2:F3} vs {weak.AuxiliaryR2:F3}");
        Assert.True(strong.PretrainSeconds < 30, $"pretraining took {strong.PretrainSeconds:F1} s");
    }

    [Fact]
    public void Probe_reads_the_trunk_and_trains_only_its_head()
    {
        using var scope = NewDisposeScope();
        using var task = new RepresentationTask(Quick, CPU);
        using var probe = task.Probe(Small);
        Assert.Equal(8, probe.InputFeatures);
        Assert.Equal(3, probe.Classes);
        Assert.Equal(8 * 3 + 3, probe.ParameterCount);
        Assert.Equal("probe[w8-d1]", probe.Name);
        // Zero-initialised head: uniform predictions.
        Assert.All(Values(probe.ClassLogits(task.Sample(5, 1).Features)), v => Assert.Equal(0f, v));
    }

    public static TheoryData<RepresentationTaskOptions, string> InvalidOptions => new()
    {
        { new() { InputDimension = 0 }, nameof(RepresentationTaskOptions.InputDimension) },
        { new() { TargetWidth = 0 }, nameof(RepresentationTaskOptions.TargetWidth) },
        { new() { TargetDepth = 0 }, nameof(RepresentationTaskOptions.TargetDepth) },
        { new() { RepresentationDimension = 0 }, nameof(RepresentationTaskOptions.RepresentationDimension) },
        { new() { Classes = 1 }, nameof(RepresentationTaskOptions.Classes) },
        { new() { Classes = 65 }, nameof(RepresentationTaskOptions.Classes) },
        { new() { AuxiliaryTasks = 0 }, nameof(RepresentationTaskOptions.AuxiliaryTasks) },
        { new() { PretrainSteps = 0 }, nameof(RepresentationTaskOptions.PretrainSteps) },
        { new() { PretrainBatchSize = 0 }, nameof(RepresentationTaskOptions.PretrainBatchSize) },
        { new() { PretrainLearningRate = 0 }, nameof(RepresentationTaskOptions.PretrainLearningRate) },
        { new() { PretrainLearningRate = double.NaN }, nameof(RepresentationTaskOptions.PretrainLearningRate) },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Invalid_options_throw_naming_the_option(RepresentationTaskOptions options, string option)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new RepresentationTask(options, CPU));
        Assert.Equal(option, error.ParamName);
        Assert.Contains(option, error.Message);
    }

    [Theory]
    [InlineData(0, 1, nameof(TrunkSpec.Width))]
    [InlineData(8, 0, nameof(TrunkSpec.Depth))]
    [InlineData(8, 17, nameof(TrunkSpec.Depth))]
    public void Invalid_trunk_specs_throw_naming_the_value(int width, int depth, string option)
    {
        using var task = new RepresentationTask(Quick, CPU);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => task.Trunk(new TrunkSpec(width, depth)));
        Assert.Equal(option, error.ParamName);
        Assert.Empty(task.PretrainedTrunks);
    }

    [Fact]
    public void Ladders_grow_and_names_are_short()
    {
        Assert.Equal(new[] { "w8-d1", "w16-d1" }, TrunkSpec.WeakLadder.Select(s => s.Name));
        Assert.Equal(new[] { "w32-d2", "w64-d3", "w128-d4" }, TrunkSpec.StrongLadder.Select(s => s.Name));
        Assert.Equal("w8-d1-s3", new TrunkSpec(8, 1, 3).Name);
        Assert.True(TrunkSpec.StrongLadder.Min(s => s.Width * s.Depth) > TrunkSpec.WeakLadder.Max(s => s.Width * s.Depth));
    }
}
