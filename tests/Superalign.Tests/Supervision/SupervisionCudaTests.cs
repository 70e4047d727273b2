using Superalign.Students;
using Superalign.Supervision;
using Superalign.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using static Superalign.Tests.Supervision.SupervisionTestKit;
using static TorchSharp.torch;

namespace Superalign.Tests.Supervision;

/// <summary>Supervisors follow the device of their inputs and give the CPU's answers there.</summary>
public sealed class SupervisionCudaTests
{
    private static void OnCudaLikeCpu(Tensor cpu, Tensor cuda, string what)
    {
        Assert.Equal(DeviceType.CUDA, cuda.device.type);
        TorchAssert.Close(cpu, cuda, absTol: 1e-5, what: what);
    }

    [CudaFact]
    public void Label_supervisors_work_on_cuda_inputs()
    {
        using var scope = NewDisposeScope();
        var x = Features(64, 4, seed: 1);
        var xc = x.to(CUDA);
        using var weakCpu = new MlpClassifier(new MlpClassifierOptions(4, 3, Seed: 1), CPU);
        using var weakCuda = new MlpClassifier(new MlpClassifierOptions(4, 3, Seed: 1), CUDA);
        var truth = new GroundTruthSupervisor(3, SignRule);
        var dataset = GroundTruthSupervisor.FromDataset(x, SignRule(x), 3);

        OnCudaLikeCpu(truth.Label(x), truth.Label(xc), "ground truth");
        OnCudaLikeCpu(truth.Label(x), dataset.Label(xc), "dataset oracle");
        OnCudaLikeCpu(new ModelSupervisor(weakCpu).Label(x), new ModelSupervisor(weakCuda).Label(xc), "model on cuda");
        OnCudaLikeCpu(new ModelSupervisor(weakCpu).Label(x), new ModelSupervisor(weakCpu).Label(xc), "cpu model, cuda features");
        OnCudaLikeCpu(new NoisySupervisor(truth, 0.3, seed: 2).Label(x), new NoisySupervisor(truth, 0.3, seed: 2).Label(xc), "noisy");
        var members = new ILabelSupervisor[] { truth, new ModelSupervisor(weakCuda) };
        foreach (var combination in Enum.GetValues<EnsembleCombination>())
        {
            var e = new EnsembleSupervisor(members, combination);
            OnCudaLikeCpu(new EnsembleSupervisor(new ILabelSupervisor[] { truth, new ModelSupervisor(weakCpu) }, combination).Label(x), e.Label(xc), $"ensemble {combination}");
            Assert.Equal(DeviceType.CUDA, e.AgreementWeights(xc).device.type);
        }
    }

    [CudaFact]
    public void Preference_supervisors_work_on_cuda_inputs()
    {
        using var scope = NewDisposeScope();
        var x = Features(32, 4, seed: 3);
        var a = ResponseBatch.ForClassification(x, SignRule(x));
        var b = ResponseBatch.ForClassification(x, SignRule(x).add(1).remainder(3));
        using var judgeCpu = new MlpClassifier(new MlpClassifierOptions(4, 3, Seed: 4), CPU);
        using var judgeCuda = new MlpClassifier(new MlpClassifierOptions(4, 3, Seed: 4), CUDA);
        var truth = new GroundTruthSupervisor(3, SignRule);

        OnCudaLikeCpu(truth.Prefer(a, b), truth.Prefer(a.To(CUDA), b.To(CUDA)), "oracle preference");
        OnCudaLikeCpu(ScoringPreferenceSupervisor.FromJudge(judgeCpu).Prefer(a, b),
            ScoringPreferenceSupervisor.FromJudge(judgeCuda).Prefer(a.To(CUDA), b.To(CUDA)), "judge on cuda");
        OnCudaLikeCpu(new ScoringPreferenceSupervisor(r => r.Inputs.sum(1), 0.5, 0.2, seed: 1).Prefer(a, b),
            new ScoringPreferenceSupervisor(r => r.Inputs.sum(1), 0.5, 0.2, seed: 1).Prefer(a.To(CUDA), b.To(CUDA)), "noisy scores");
    }
}
