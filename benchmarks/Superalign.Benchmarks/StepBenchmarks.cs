using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using TorchSharp;

namespace Superalign.Benchmarks;

/// <summary>
/// One optimizer update of each kind for the MLP classifier (batch 256): the library's competence, conformity (DPO,
/// cached reference) and alternating steps, and the same competence and DPO steps hand-written in TorchSharp.
/// <see cref="FlatBuffer"/> = false uses TorchSharp's AdamW, the hand-written loop's optimizer.
/// </summary>
[MemoryDiagnoser]
[StepModel("mlp")]
public class MlpStepBenchmarks
{
    private StepFixture _fixture = null!;

    [Params("64x256x3", "128x1024x3")]
    public string Shape { get; set; } = "64x256x3";

    [Params(true, false)]
    public bool FlatBuffer { get; set; } = true;

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(Environment.ProcessorCount);
        var (f, w, d) = StepCost.ParseMlp(Shape);
        _fixture = StepFixture.Mlp(f, w, d, batch: StepCost.MlpBatch, FlatBuffer);
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

/// <summary>
/// One optimizer update of each kind for the tiny causal LM: a DPO step on 16 pairs (one 2B = 32-sequence forward,
/// cached reference) and a competence step on the same 32 sequences, so both cover the same tokens.
/// </summary>
[MemoryDiagnoser]
[StepModel("lm")]
public class LmStepBenchmarks
{
    private StepFixture _fixture = null!;

    [Params("d128-L2-T64", "d256-L4-T128")]
    public string Shape { get; set; } = "d128-L2-T64";

    [Params(true, false)]
    public bool FlatBuffer { get; set; } = true;

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(Environment.ProcessorCount);
        var (d, l, t) = StepCost.ParseLm(Shape);
        _fixture = StepFixture.Lm(d, l, t, pairs: StepCost.LmPairs, FlatBuffer);
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
