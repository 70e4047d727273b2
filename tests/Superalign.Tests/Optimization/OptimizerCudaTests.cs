using Superalign.Data;
using Superalign.Optimization;
using Superalign.Students;
using Superalign.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Optimization;

/// <summary>
/// The alternating optimizer on CUDA follows the CPU run: the same students, data and options give the same losses and
/// weights after a few competence and conformity steps (flat AdamW and the per-tensor fallback alike).
/// </summary>
public sealed class OptimizerCudaTests
{
    [CudaTheory]
    [InlineData(true)]
    [InlineData(false)]
    public void Alternating_steps_on_cuda_match_the_cpu(bool flat)
    {
        using var scope = NewDisposeScope();
        var (x, y) = ToyData.Classification(128, 6, 3, seed: 4);
        var rejected = (y + 1).remainder(3);
        var options = new AlternatingOptimizerOptions
        {
            TotalSteps = 8, LearningRate = 1e-2, WarmupSteps = 2, FlatParameterBuffer = flat,
            Schedule = AlternationSchedules.FixedRatio(1, 1),
        };
        var mlp = new MlpClassifierOptions(6, 3, HiddenWidth: 16, Depth: 2, Seed: 3);

        (IReadOnlyList<StepReport> Reports, Tensor[] Weights) Run(Device device)
        {
            using var student = new MlpClassifier(mlp, device);
            var sup = SupervisedDataset.ForClassification(x, y).Batches(32, seed: 1);
            var pref = PreferenceDataset.ForClassification(x, y, rejected).WithReferenceLogProbs(student.Clone()).Batches(32, seed: 2);
            using var optimizer = new AlternatingOptimizer(student, new TestCrossEntropy(), new TestDpo(), options);
            var reports = optimizer.Train(sup, pref);
            return (reports, student.Parameters().Select(p => p.detach().cpu().clone()).ToArray());
        }

        var cpu = Run(CPU);
        var cuda = Run(CUDA);
        Assert.Equal(cpu.Reports.Select(r => r.Phase), cuda.Reports.Select(r => r.Phase));
        foreach (var (a, b) in cpu.Reports.Zip(cuda.Reports))
            TorchAssert.Close(a.Loss, b.Loss, 1e-4, 1e-4, $"loss of step {a.Step}");
        foreach (var (a, b) in cpu.Weights.Zip(cuda.Weights))
            TorchAssert.Close(a, b, 1e-4, 1e-3, "weights after training");
    }
}
