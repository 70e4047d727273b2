using BenchmarkDotNet.Attributes;
using TorchSharp;

namespace Superalign.Benchmarks;

/// <summary>
/// One optimizer update of each kind: the library's competence, conformity (DPO, cached reference) and alternating
/// steps, and the same competence and DPO steps hand-written in TorchSharp. <see cref="FlatBuffer"/> = false uses
/// TorchSharp's AdamW, the hand-written loops' optimizer.
/// </summary>
public abstract class StepBenchmarksBase
{
    private StepFixture _fixture = null!;

    /// <summary>The fixture's shape (see <see cref="StepCost"/>).</summary>
    public abstract string Shape { get; set; }

    [Params(true, false)]
    public bool FlatBuffer { get; set; } = true;

    /// <summary><c>mlp</c>, <c>lm</c> or <c>gpt2</c>.</summary>
    protected abstract string Model { get; }

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(Environment.ProcessorCount);
        _fixture = StepFixture.For(Model, Shape, FlatBuffer);
    }

    [Benchmark(Baseline = true)]
    public double Competence() => _fixture.Competence().Loss;

    [Benchmark]
    public double Conformity() => _fixture.Conformity().Loss;

    [Benchmark]
    public double Alternating() => _fixture.Alternating().Loss;

    [Benchmark]
    public double HandWrittenCompetence() => _fixture.HandWrittenCompetence();

    [Benchmark]
    public double HandWrittenConformity() => _fixture.HandWrittenConformity();

    [GlobalCleanup]
    public void Cleanup() => _fixture.Dispose();
}

/// <summary>MLP classifier steps (batch 256).</summary>
[MemoryDiagnoser]
[StepModel("mlp")]
public class MlpStepBenchmarks : StepBenchmarksBase
{
    [Params("64x256x3", "128x1024x3")]
    public override string Shape { get; set; } = "64x256x3";

    protected override string Model => "mlp";
}

/// <summary>
/// Tiny causal LM steps: a DPO step on 16 pairs (one 2B = 32-sequence forward, cached reference) and a competence
/// step on the same 32 sequences, so both cover the same tokens.
/// </summary>
[MemoryDiagnoser]
[StepModel("lm")]
public class LmStepBenchmarks : StepBenchmarksBase
{
    [Params("d128-L2-T64", "d256-L4-T128")]
    public override string Shape { get; set; } = "d128-L2-T64";

    protected override string Model => "lm";
}

/// <summary>
/// GPT-2-small-shaped steps (124 M parameters, random weights, sequence length 128): a DPO step on 4 pairs and a
/// competence step on the same 8 sequences. Each step takes seconds: run with few iterations (docs/performance.md).
/// </summary>
[MemoryDiagnoser]
[StepModel("gpt2")]
public class Gpt2StepBenchmarks : StepBenchmarksBase
{
    [Params("d768-L12-T128")]
    public override string Shape { get; set; } = "d768-L12-T128";

    protected override string Model => "gpt2";
}
