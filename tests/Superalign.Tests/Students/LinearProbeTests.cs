using Superalign.Students;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static Superalign.Tests.Students.StudentTestKit;
using static TorchSharp.torch;

namespace Superalign.Tests.Students;

public sealed class LinearProbeTests
{
    private static readonly LinearProbeOptions Options = new(InputFeatures: 4, FeatureDimension: 16, Classes: 2);

    /// <summary>A random frozen trunk: 4 → 16 with a tanh.</summary>
    private sealed class Trunk : nn.Module<Tensor, Tensor>
    {
        private readonly Linear layer;

        public Trunk(long seed) : base(nameof(Trunk))
        {
            layer = nn.Linear(4, 16);
            using var g = new Generator((ulong)seed, CPU);
            using (no_grad()) layer.weight!.normal_(0, 1, g);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => layer.call(x).tanh();
    }

    /// <summary>Inputs whose labels are a random linear function of the trunk's features: separable for the probe.</summary>
    private static (Tensor X, Tensor Y) SeparableInFeatureSpace(Func<Tensor, Tensor> features, int n, long seed)
    {
        using var g = new Generator((ulong)seed, CPU);
        var x = randn(new long[] { n, 4 }, generator: g);
        var w = randn(new long[] { 16 }, generator: g);
        using var _ = no_grad();
        var score = features(x).matmul(w);
        return (x, score.gt(score.median()).to_type(ScalarType.Int64));
    }

    [Fact]
    public void Only_the_head_is_trainable_and_the_trunk_is_frozen()
    {
        using var scope = NewDisposeScope();
        using var trunk = new Trunk(seed: 1);
        using var probe = new LinearProbe(trunk, Options, CPU);

        var trainable = probe.Parameters();
        Assert.Equal(2, trainable.Count);
        Assert.Equal(new long[] { 2, 16 }, trainable[0].shape);
        Assert.Equal(16 * 2 + 2, probe.ParameterCount);
        Assert.All(trunk.parameters(), p =>
        {
            Assert.False(p.requires_grad);
            Assert.DoesNotContain(trainable, q => ReferenceEquals(p, q));
        });
        Assert.False(trunk.training);
    }

    [Fact]
    public void Adam_fits_a_linearly_separable_problem_without_touching_the_trunk()
    {
        using var scope = NewDisposeScope();
        using var trunk = new Trunk(seed: 2);
        var trunkBefore = trunk.parameters().Select(p => p.detach().clone()).ToArray();
        using var probe = new LinearProbe(trunk, Options with { ZeroInitHead = true }, CPU);
        var (x, y) = SeparableInFeatureSpace(trunk.call, 256, seed: 3);
        var batch = ResponseBatch.ForClassification(x, y);
        using var adam = optim.Adam(probe.Parameters(), lr: 0.05);

        double before = Accuracy(probe, x, y);
        for (int i = 0; i < 300; i++) Step(adam, () => Nll(probe, batch));

        double after = Accuracy(probe, x, y);
        Assert.True(after > 0.95, $"train accuracy {after:P1} (was {before:P1})");
        foreach (var (p, old) in trunk.parameters().Zip(trunkBefore))
        {
            Identical(old, p, "trunk parameter");
            Assert.True(p.grad is null || p.grad.IsInvalid, "the trunk received a gradient");
        }
    }

    [Fact]
    public void A_feature_map_gets_no_gradient_even_when_its_parameters_require_one()
    {
        using var scope = NewDisposeScope();
        using var mlp = new MlpClassifier(new MlpClassifierOptions(4, 2, HiddenWidth: 16, Depth: 1), CPU);
        using var probe = new LinearProbe(mlp.Features, Options, CPU);
        var (x, y) = SeparableInFeatureSpace(mlp.Features, 32, seed: 4);

        Nll(probe, ResponseBatch.ForClassification(x, y)).backward();

        Assert.All(probe.Parameters(), p => Assert.NotNull(p.grad));
        Assert.All(mlp.Parameters(), p => Assert.True(p.requires_grad && p.grad is null, "the feature map received a gradient"));
        Assert.False(probe.Features(x).requires_grad);
    }

    [Fact]
    public void Clone_shares_the_trunk_and_copies_the_head()
    {
        using var scope = NewDisposeScope();
        using var trunk = new Trunk(seed: 5);
        int trunkCalls = 0;
        using var probe = new LinearProbe(x => { trunkCalls++; return trunk.call(x); }, Options, CPU);
        var (x, y) = SeparableInFeatureSpace(trunk.call, 32, seed: 6);
        var before = probe.ClassLogits(x).detach().clone();

        using var clone = (LinearProbe)probe.Clone();
        trunkCalls = 0;
        Identical(before, clone.ClassLogits(x), "clone logits");
        Assert.Equal(1, trunkCalls); // the clone reads the same feature map

        using var adam = optim.Adam(clone.Parameters(), lr: 0.05);
        for (int i = 0; i < 3; i++) Step(adam, () => Nll(clone, ResponseBatch.ForClassification(x, y)));
        Identical(before, probe.ClassLogits(x), "original after training the clone");
        Assert.False(BitwiseEqual(before, clone.ClassLogits(x)));
    }

    [Fact]
    public void Save_then_load_stores_the_head_only_and_gives_identical_logits()
    {
        using var scope = NewDisposeScope();
        using var file = new TempFile();
        using var trunk = new Trunk(seed: 7);
        using var probe = new LinearProbe(trunk, Options, CPU);
        var (x, y) = SeparableInFeatureSpace(trunk.call, 32, seed: 8);
        using (var adam = optim.Adam(probe.Parameters(), lr: 0.05))
            for (int i = 0; i < 3; i++) Step(adam, () => Nll(probe, ResponseBatch.ForClassification(x, y)));

        probe.Save(file.Path);
        using var fresh = new LinearProbe(trunk, Options with { Seed = 9 }, CPU);
        Assert.False(BitwiseEqual(probe.ClassLogits(x), fresh.ClassLogits(x)));
        fresh.Load(file.Path);

        Identical(probe.ClassLogits(x), fresh.ClassLogits(x), "logits after load");
        Assert.Equal(new[] { "bias", "weight" }, probe.Module.state_dict().Keys.Order());
    }

    [Fact]
    public void Disposing_the_probe_leaves_the_trunk_alive()
    {
        using var scope = NewDisposeScope();
        using var trunk = new Trunk(seed: 10);
        var probe = new LinearProbe(trunk, Options, CPU);
        probe.Dispose();

        Assert.Equal(new long[] { 3, 16 }, trunk.call(randn(3, 4)).shape);
    }

    [Fact]
    public void Shapes_follow_the_classification_contract_and_bad_features_are_reported()
    {
        using var scope = NewDisposeScope();
        using var trunk = new Trunk(seed: 11);
        using var probe = new LinearProbe(trunk, Options, CPU);
        var x = randn(5, 4);

        Assert.Equal(new long[] { 5, 2 }, probe.ClassLogits(x).shape);
        Assert.Equal(new long[] { 5, 1, 2 }, probe.Logits(ResponseBatch.ForClassification(x, zeros(5, dtype: ScalarType.Int64))).shape);
        Assert.Equal(new long[] { 5, 16 }, probe.Features(x).shape);
        Assert.Throws<ArgumentException>(() => probe.ClassLogits(randn(5, 3)));

        using var wrong = new LinearProbe(v => trunk.call(v).narrow(1, 0, 8), Options, CPU);
        Assert.Throws<InvalidOperationException>(() => wrong.ClassLogits(x));
    }

    [Fact]
    public void A_training_step_leaves_no_live_tensors()
    {
        using var scope = NewDisposeScope();
        using var trunk = new Trunk(seed: 12);
        using var probe = new LinearProbe(trunk, Options, CPU);
        var (x, y) = SeparableInFeatureSpace(trunk.call, 32, seed: 13);
        var batch = ResponseBatch.ForClassification(x, y);
        using var adam = optim.Adam(probe.Parameters(), lr: 0.05);
        Step(adam, () => Nll(probe, batch));

        long before = LiveTensors;
        for (int i = 0; i < 3; i++) Step(adam, () => Nll(probe, batch));

        Assert.Equal(before, LiveTensors);
    }

    public static TheoryData<string, LinearProbeOptions> InvalidOptions() => new()
    {
        { nameof(LinearProbeOptions.InputFeatures), Options with { InputFeatures = 0 } },
        { nameof(LinearProbeOptions.FeatureDimension), Options with { FeatureDimension = 0 } },
        { nameof(LinearProbeOptions.Classes), Options with { Classes = 1 } },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Invalid_options_throw_naming_the_option_before_freezing_the_trunk(string option, LinearProbeOptions options)
    {
        using var trunk = new Trunk(seed: 14);
        ThrowsNaming(option, () => new LinearProbe(trunk, options, CPU));
        Assert.All(trunk.parameters(), p => Assert.True(p.requires_grad));
        ThrowsNaming(option, () => new LinearProbe(trunk.call, options, CPU));
    }
}
