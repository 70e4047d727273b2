using Superalign.Students;
using Superalign.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using static Superalign.Tests.Students.StudentTestKit;
using static TorchSharp.torch;

namespace Superalign.Tests.Students;

/// <summary>
/// Each student built from one seed on the CPU and on CUDA starts from the same weights, so forward values and
/// gradients must agree up to floating-point reassociation.
/// </summary>
public sealed class StudentCudaTests
{
    private const double Tolerance = 1e-4;

    private static void ForwardAndBackwardAgree(IStudent onCpu, IStudent onCuda, ResponseBatch batch)
    {
        using var scope = NewDisposeScope();
        Assert.Equal(DeviceType.CUDA, onCuda.Device.type);
        Assert.All(onCuda.Parameters(), p => Assert.Equal(DeviceType.CUDA, p.device.type));

        var cpuLogits = onCpu.Logits(batch);
        var cudaLogits = onCuda.Logits(batch.To(onCuda.Device));
        Assert.Equal(DeviceType.CUDA, cudaLogits.device.type);
        TorchAssert.Close(cpuLogits, cudaLogits, absTol: Tolerance, what: "logits");

        Nll(onCpu, batch).backward();
        Nll(onCuda, batch.To(onCuda.Device)).backward();
        foreach (var (cpu, cuda) in onCpu.Parameters().Zip(onCuda.Parameters()))
            TorchAssert.Close(cpu.grad!, cuda.grad!, absTol: Tolerance, what: "gradient");
    }

    [CudaFact]
    public void MlpClassifier_matches_the_cpu()
    {
        using var scope = NewDisposeScope();
        var options = new MlpClassifierOptions(4, 3, HiddenWidth: 32, Depth: 2, Activation: Activation.GELU);
        using var cpu = new MlpClassifier(options, CPU);
        using var cuda = new MlpClassifier(options, CUDA);
        var (x, y) = Xor(64, seed: 1);

        ForwardAndBackwardAgree(cpu, cuda, ResponseBatch.ForClassification(x, y));
    }

    [CudaFact]
    public void LinearProbe_matches_the_cpu()
    {
        using var scope = NewDisposeScope();
        var options = new LinearProbeOptions(4, 4, 2);
        using var cpu = new LinearProbe(x => x.tanh(), options, CPU);
        using var cuda = new LinearProbe(x => x.tanh(), options, CUDA);
        var (x, y) = Xor(64, seed: 2);

        ForwardAndBackwardAgree(cpu, cuda, ResponseBatch.ForClassification(x, y));
    }

    [CudaFact]
    public void TinyCausalLm_matches_the_cpu_and_generates_on_cuda()
    {
        using var scope = NewDisposeScope();
        var options = new TinyCausalLmOptions(VocabularySize: 11, MaxSequenceLength: 16, ModelDim: 32, Layers: 2, Heads: 4);
        using var cpu = new TinyCausalLm(options, CPU);
        using var cuda = new TinyCausalLm(options, CUDA);
        using var g = new Generator(3, CPU);
        var tokens = randint(0, 11, new long[] { 3, 12 }, generator: g);
        var mask = ones(3, 12);
        mask.narrow(1, 0, 4).fill_(0);

        ForwardAndBackwardAgree(cpu, cuda, ResponseBatch.ForCausalLm(tokens, mask));

        var prompts = tokens.narrow(1, 0, 3);
        var seeded = new GenerationOptions(MaxNewTokens: 8, Temperature: 1.0, TopK: 5, StopToken: 2, Seed: 4);
        var sampled = cuda.Generate(prompts.cuda(), seeded);
        Assert.Equal(DeviceType.CUDA, sampled.device.type);
        Identical(sampled, cuda.Generate(prompts.cuda(), seeded), "seeded CUDA sampling");
        Identical(cpu.Generate(prompts, new GenerationOptions(MaxNewTokens: 8, Temperature: 0)),
                  cuda.Generate(prompts.cuda(), new GenerationOptions(MaxNewTokens: 8, Temperature: 0)), "greedy CPU vs CUDA");
    }
}
