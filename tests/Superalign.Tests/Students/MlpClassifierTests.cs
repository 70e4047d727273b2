using Superalign.Students;
using TorchSharp;
using Xunit;
using static Superalign.Tests.Students.StudentTestKit;
using static TorchSharp.torch;

namespace Superalign.Tests.Students;

public sealed class MlpClassifierTests
{
    private static MlpClassifier Create(MlpClassifierOptions? options = null) =>
        new(options ?? new MlpClassifierOptions(InputFeatures: 4, Classes: 3, HiddenWidth: 16, Depth: 2), CPU);

    [Fact]
    public void Shapes_follow_the_classification_contract()
    {
        using var scope = NewDisposeScope();
        using var student = Create();
        var x = randn(5, 4);
        var batch = ResponseBatch.ForClassification(x, zeros(5, dtype: ScalarType.Int64));

        Assert.Equal(new long[] { 5, 3 }, student.ClassLogits(x).shape);
        Assert.Equal(new long[] { 5, 1, 3 }, student.Logits(batch).shape);
        Assert.Equal(new long[] { 5, 16 }, student.Features(x).shape);
        Assert.Equal(16, student.FeatureDimension);
        Assert.Throws<ArgumentException>(() => student.ClassLogits(randn(5, 3)));
    }

    [Fact]
    public void Depth_zero_is_logistic_regression_on_the_inputs()
    {
        using var scope = NewDisposeScope();
        using var student = Create(new MlpClassifierOptions(4, 3, Depth: 0));
        var x = randn(5, 4);

        Assert.Equal(2, student.Parameters().Count);
        Assert.Equal(4, student.FeatureDimension);
        Identical(x, student.Features(x), "features");
        Assert.Equal(new long[] { 5, 3 }, student.ClassLogits(x).shape);
    }

    [Theory]
    [InlineData(Activation.ReLU)]
    [InlineData(Activation.GELU)]
    public void Adam_learns_xor(Activation activation)
    {
        using var scope = NewDisposeScope();
        using var student = Create(new MlpClassifierOptions(4, 2, HiddenWidth: 32, Depth: 2, Activation: activation, Seed: 3));
        var (x, y) = Xor(256, seed: 11);
        var batch = ResponseBatch.ForClassification(x, y);
        using var adam = optim.Adam(student.Parameters(), lr: 0.01);

        double before = Accuracy(student, x, y);
        for (int i = 0; i < 300; i++) Step(adam, () => Nll(student, batch));

        double after = Accuracy(student, x, y);
        Assert.True(after > 0.9, $"train accuracy {after:P1} (was {before:P1})");
    }

    [Fact]
    public void The_activation_option_changes_the_function()
    {
        using var scope = NewDisposeScope();
        using var relu = Create(new MlpClassifierOptions(4, 3, Activation: Activation.ReLU));
        using var gelu = Create(new MlpClassifierOptions(4, 3, Activation: Activation.GELU));
        var x = randn(8, 4);

        SameParameters(relu, gelu);
        Assert.False(BitwiseEqual(relu.ClassLogits(x), gelu.ClassLogits(x)));
    }

    [Fact]
    public void Seed_determines_the_initial_weights()
    {
        using var scope = NewDisposeScope();
        using var a = Create(new MlpClassifierOptions(4, 3, Seed: 7));
        using var b = Create(new MlpClassifierOptions(4, 3, Seed: 7));
        using var c = Create(new MlpClassifierOptions(4, 3, Seed: 8));

        SameParameters(a, b);
        Assert.True(AnyParameterDiffers(a, c));
        Assert.All(c.Parameters().Zip(a.Parameters()), p => Assert.False(BitwiseEqual(p.First, p.Second)));
    }

    [Fact]
    public void Construction_neither_reads_nor_advances_the_global_generator()
    {
        using var scope = NewDisposeScope();
        manual_seed(123);
        var expected = randn(4);

        manual_seed(123);
        using var a = Create(new MlpClassifierOptions(4, 3, Seed: 1));
        var afterConstruction = randn(4);
        manual_seed(999);
        using var b = Create(new MlpClassifierOptions(4, 3, Seed: 1));

        Identical(expected, afterConstruction, "global draw after construction");
        SameParameters(a, b);
    }

    [Fact]
    public void Zero_initialised_head_predicts_uniformly()
    {
        using var scope = NewDisposeScope();
        using var zero = Create(new MlpClassifierOptions(4, 3, ZeroInitHead: true));
        using var plain = Create(new MlpClassifierOptions(4, 3, ZeroInitHead: false));
        var x = randn(6, 4);

        Identical(zeros(6, 3), zero.ClassLogits(x), "zero-head logits");
        Assert.False(BitwiseEqual(zeros(6, 3), plain.ClassLogits(x)));
        // The hidden layers are still initialised from the seed.
        Identical(plain.Features(x), zero.Features(x), "features");
    }

    [Fact]
    public void Dropout_is_active_in_training_mode_only()
    {
        using var scope = NewDisposeScope();
        using var student = Create(new MlpClassifierOptions(4, 3, HiddenWidth: 64, Dropout: 0.5));
        var x = randn(8, 4);

        student.SetTraining(true);
        Assert.False(BitwiseEqual(student.ClassLogits(x), student.ClassLogits(x)));
        student.SetTraining(false);
        Identical(student.ClassLogits(x), student.ClassLogits(x), "eval logits");
    }

    [Fact]
    public void Save_then_load_into_a_fresh_instance_gives_identical_logits()
    {
        using var scope = NewDisposeScope();
        using var file = new TempFile();
        using var trained = Create();
        var (x, _) = Xor(16, seed: 1);
        var batch = ResponseBatch.ForClassification(x, zeros(16, dtype: ScalarType.Int64));
        using (var adam = optim.Adam(trained.Parameters(), lr: 0.05))
            for (int i = 0; i < 5; i++) Step(adam, () => Nll(trained, batch));

        trained.Save(file.Path);
        using var fresh = Create(new MlpClassifierOptions(4, 3, HiddenWidth: 16, Depth: 2, Seed: 99));
        Assert.False(BitwiseEqual(trained.ClassLogits(x), fresh.ClassLogits(x)));
        fresh.Load(file.Path);

        Identical(trained.ClassLogits(x), fresh.ClassLogits(x), "logits after load");
    }

    [Fact]
    public void Clone_is_identical_and_independent()
    {
        using var scope = NewDisposeScope();
        using var original = Create();
        var (x, y) = Xor(32, seed: 2);
        var before = original.ClassLogits(x).detach().clone();

        using var clone = (MlpClassifier)original.Clone();
        Identical(before, clone.ClassLogits(x), "clone logits");
        Assert.Equal(original.Options, clone.Options);

        using var adam = optim.Adam(clone.Parameters(), lr: 0.05);
        for (int i = 0; i < 3; i++) Step(adam, () => Nll(clone, ResponseBatch.ForClassification(x, y)));

        Identical(before, original.ClassLogits(x), "original after training the clone");
        Assert.False(BitwiseEqual(before, clone.ClassLogits(x)));
    }

    [Fact]
    public void A_student_built_inside_a_dispose_scope_outlives_it()
    {
        MlpClassifier student;
        using (var inner = NewDisposeScope()) student = Create();
        using (student)
        {
            using var scope = NewDisposeScope();
            Assert.Equal(new long[] { 2, 3 }, student.ClassLogits(randn(2, 4)).shape);
        }
    }

    [Fact]
    public void A_training_step_leaves_no_live_tensors()
    {
        using var scope = NewDisposeScope();
        using var student = Create(new MlpClassifierOptions(4, 3, Dropout: 0.1));
        var (x, y) = Xor(32, seed: 3);
        var batch = ResponseBatch.ForClassification(x, y);
        using var adam = optim.Adam(student.Parameters(), lr: 0.01);
        Step(adam, () => Nll(student, batch)); // the first step creates Adam's state

        long before = LiveTensors;
        for (int i = 0; i < 3; i++) Step(adam, () => Nll(student, batch));

        Assert.Equal(before, LiveTensors);
    }

    public static TheoryData<string, MlpClassifierOptions> InvalidOptions() => new()
    {
        { nameof(MlpClassifierOptions.InputFeatures), new(0, 3) },
        { nameof(MlpClassifierOptions.Classes), new(4, 1) },
        { nameof(MlpClassifierOptions.HiddenWidth), new(4, 3, HiddenWidth: 0) },
        { nameof(MlpClassifierOptions.Depth), new(4, 3, Depth: -1) },
        { nameof(MlpClassifierOptions.Depth), new(4, 3, Depth: 65) },
        { nameof(MlpClassifierOptions.Activation), new(4, 3, Activation: (Activation)7) },
        { nameof(MlpClassifierOptions.Dropout), new(4, 3, Dropout: 1) },
        { nameof(MlpClassifierOptions.Dropout), new(4, 3, Dropout: -0.1) },
        { nameof(MlpClassifierOptions.Dropout), new(4, 3, Dropout: double.NaN) },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Invalid_options_throw_naming_the_option(string option, MlpClassifierOptions options) =>
        ThrowsNaming(option, () => new MlpClassifier(options, CPU));
}
