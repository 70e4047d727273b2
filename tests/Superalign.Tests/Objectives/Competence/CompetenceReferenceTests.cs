using Superalign.Objectives.Competence;
using Superalign.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Objectives.Competence;

/// <summary>Each objective against the scalar double-precision reference on seeded random inputs.</summary>
public sealed class CompetenceReferenceTests
{
    /// <summary>An objective under test and its reference, by label.</summary>
    public static readonly Dictionary<string, (Func<ICompetenceObjective> Create, Func<CompetenceCase, double> Reference)> Objectives = new()
    {
        ["ce"] = (() => new CrossEntropyObjective(), k => ScalarReference.Ce(k)),
        ["ce ls=0.1"] = (() => new CrossEntropyObjective(labelSmoothing: 0.1), k => ScalarReference.Ce(k, 0.1)),
        ["nll"] = (() => new TokenNllObjective(), k => ScalarReference.Ce(k)),
        ["xent"] = (() => new SoftCrossEntropyObjective(), ScalarReference.Xent),
        ["kl"] = (() => new KlObjective(), ScalarReference.Kl),
        ["product"] = (() => new ProductObjective(), k => ScalarReference.Product(k, 1, 1)),
        ["product a=0.5 b=2"] = (() => new ProductObjective(alpha: 0.5, beta: 2), k => ScalarReference.Product(k, 0.5, 2)),
        ["product a=0 b=1.5"] = (() => new ProductObjective(alpha: 0, beta: 1.5), k => ScalarReference.Product(k, 0, 1.5)),
        ["entropy"] = (() => new EntropyObjective(), k => ScalarReference.EntropyObjective(k, 0.5)),
        ["entropy a=0.2"] = (() => new EntropyObjective(alpha: 0.2), k => ScalarReference.EntropyObjective(k, 0.2)),
        ["logconf"] = (() => new LogConfidenceObjective(), k => ScalarReference.LogConf(k, 0.5, 0.2, Hardening.Auto)),
        ["logconf mid-warmup"] = (() => new LogConfidenceObjective(), k => ScalarReference.LogConf(k with { StepFraction = 0.07 }, 0.5, 0.2, Hardening.Auto)),
        ["logconf argmax a=0.75"] = (() => new LogConfidenceObjective(0.75, 0.1, Hardening.Argmax), k => ScalarReference.LogConf(k, 0.75, 0.1, Hardening.Argmax)),
        ["logconf marginals"] = (() => new LogConfidenceObjective(0.5, 0, Hardening.MatchWeakMarginals), k => ScalarReference.LogConf(k, 0.5, 0, Hardening.MatchWeakMarginals)),
    };

    /// <summary>Classifier shapes (T = 1) and LM shapes with ragged masks, binary and K-class.</summary>
    private static readonly (int B, int T, int V)[] Shapes = [(8, 1, 2), (16, 1, 2), (12, 1, 4), (3, 6, 5), (4, 5, 2), (5, 4, 3)];

    public static TheoryData<string, int, int, int> Cases()
    {
        var data = new TheoryData<string, int, int, int>();
        foreach (var name in Objectives.Keys)
            foreach (var (b, t, v) in Shapes) data.Add(name, b, t, v);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesScalarReference(string objective, int b, int t, int v)
    {
        using var scope = NewDisposeScope();
        var (create, reference) = Objectives[objective];
        for (int seed = 0; seed < 4; seed++)
        {
            var k = CompetenceCase.Random(1000 * seed + 17 * b + 5 * t + v, b, t, v);
            if (objective == "logconf mid-warmup") k = k with { StepFraction = 0.07 };
            var loss = create().Loss(k.ToInput(flatSoft: t == 1 && seed % 2 == 1));
            Assert.Equal(ScalarType.Float64, loss.dtype);
            Assert.Equal(0, loss.dim());
            TorchAssert.Close(reference(k), loss.item<double>(), 1e-9, 1e-9, $"{objective} seed {seed}");
        }
    }

    [Theory]
    [InlineData("xent")]
    [InlineData("product")]
    [InlineData("logconf")]
    [InlineData("logconf marginals")]
    [InlineData("ce ls=0.1")]
    public void Float32MatchesReferenceAndStaysFloat32(string objective)
    {
        using var scope = NewDisposeScope();
        var (create, reference) = Objectives[objective];
        var k = CompetenceCase.Random(7, 3, 6, 4);
        var loss = create().Loss(k.ToInput(ScalarType.Float32));
        Assert.Equal(ScalarType.Float32, loss.dtype);
        TorchAssert.Close(reference(k), loss.item<float>(), 1e-5, 1e-5, objective);
    }

    [Fact]
    public void HalfPrecisionLogitsAreComputedInFloat32()
    {
        using var scope = NewDisposeScope();
        var k = CompetenceCase.Random(3, 6, 1, 3);
        var loss = new SoftCrossEntropyObjective().Loss(k.ToInput(ScalarType.BFloat16));
        Assert.Equal(ScalarType.Float32, loss.dtype);
        TorchAssert.Close(ScalarReference.Xent(k), loss.item<float>(), 0.05, 0.02);
    }

    [CudaFact]
    public void CudaMatchesReference()
    {
        using var scope = NewDisposeScope();
        foreach (var (name, (create, reference)) in Objectives)
        {
            var k = CompetenceCase.Random(11, 4, 5, name.Contains("marginals") ? 3 : 2);
            var loss = create().Loss(k.ToInput(device: CUDA));
            Assert.Equal(DeviceType.CUDA, loss.device_type);
            TorchAssert.Close(reference(k), loss.cpu().item<double>(), 1e-9, 1e-9, name);
        }
    }
}
