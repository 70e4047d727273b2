using Superalign.Students;
using Superalign.Supervision;
using TorchSharp;
using Superalign.Tests.Infrastructure;
using Xunit;
using static Superalign.Tests.Supervision.SupervisionTestKit;
using static TorchSharp.torch;

namespace Superalign.Tests.Supervision;

public sealed class ModelSupervisorTests
{
    // Dropout 0.5 makes training mode visible: labels computed in training mode would be random.
    private static MlpClassifier Weak() => new(new MlpClassifierOptions(4, 3, HiddenWidth: 32, Depth: 2, Dropout: 0.5, Seed: 5), CPU);

    private static Tensor EvalLogits(MlpClassifier model, Tensor x)
    {
        model.SetTraining(false);
        using var _ = no_grad();
        var logits = model.ClassLogits(x);
        model.SetTraining(true);
        return logits;
    }

    [Fact]
    public void Labels_are_the_softmax_of_the_logits_in_evaluation_mode_and_training_mode_is_restored()
    {
        using var scope = NewDisposeScope();
        using var model = Weak();
        var x = Features(16, 4, seed: 1);
        var expected = EvalLogits(model, x).softmax(1);
        model.SetTraining(true);
        var supervisor = new ModelSupervisor(model);

        var soft = LeavesOnly(1, () => supervisor.Label(x));

        Assert.True(model.Module.training, "training mode restored");
        TorchAssert.Close(expected, soft, absTol: 1e-7, what: "softmax");
        Assert.False(soft.requires_grad);
        Assert.Equal(model.Name, supervisor.Name);
        Assert.Null(model.Parameters()[0].grad);
    }

    [Fact]
    public void Evaluation_mode_is_kept_when_the_caller_had_it()
    {
        using var scope = NewDisposeScope();
        using var model = Weak();
        model.SetTraining(false);
        new ModelSupervisor(model).Label(Features(4, 4, seed: 2));
        Assert.False(model.Module.training);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(2.0)]
    public void Temperature_divides_the_logits(double temperature)
    {
        using var scope = NewDisposeScope();
        using var model = Weak();
        var x = Features(8, 4, seed: 3);
        var expected = (EvalLogits(model, x) / temperature).softmax(1);

        var soft = new ModelSupervisor(model, temperature).Label(x);

        TorchAssert.Close(expected, soft, absTol: 1e-7, what: $"softmax at T = {temperature}");
        // Higher temperature, softer labels: the max probability moves towards 1/3.
        double plain = new ModelSupervisor(model).Label(x).max().ToDouble();
        Assert.True(temperature > 1 ? soft.max().ToDouble() < plain : soft.max().ToDouble() > plain);
    }

    [Fact]
    public void Bad_inputs_name_the_parameter()
    {
        using var scope = NewDisposeScope();
        using var model = Weak();
        Assert.Equal("temperature", Assert.Throws<ArgumentOutOfRangeException>(() => new ModelSupervisor(model, 0)).ParamName);
        Assert.Equal("temperature", Assert.Throws<ArgumentOutOfRangeException>(() => new ModelSupervisor(model, double.PositiveInfinity)).ParamName);
        Assert.Equal("model", Assert.Throws<ArgumentNullException>(() => new ModelSupervisor(null!)).ParamName);
        var supervisor = new ModelSupervisor(model);
        Assert.Equal("features", Assert.Throws<ArgumentException>(() => supervisor.Label(zeros(3, 5))).ParamName);
        Assert.Equal("features", Assert.Throws<ArgumentException>(() => supervisor.Label(zeros(4))).ParamName);
    }
}
