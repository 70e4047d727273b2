using Superalign.Students;
using Superalign.Supervision;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Students;

public sealed class TrainingModeTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void IsTraining_reports_the_mode_and_supervisors_restore_it(bool training)
    {
        using var scope = NewDisposeScope();
        using var mlp = new MlpClassifier(new MlpClassifierOptions(3, 2, HiddenWidth: 4, Dropout: 0.5), CPU);
        mlp.SetTraining(training);
        Assert.Equal(training, mlp.IsTraining);
        Assert.Equal(training, mlp.Module.training);
        new ModelSupervisor(mlp).Label(randn(5, 3));
        Assert.Equal(training, mlp.IsTraining);
    }
}
