using Superalign.Objectives;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Students;

/// <summary>Toy data, training loops and assertions shared by the student tests.</summary>
internal static class StudentTestKit
{
    /// <summary>Tensors alive on this thread (created minus disposed), whether or not a dispose scope holds them.</summary>
    public static long LiveTensors => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    /// <summary>XOR of the signs of two coordinates, with 2 noise features: not linearly separable.</summary>
    public static (Tensor X, Tensor Y) Xor(int n, long seed)
    {
        using var g = new Generator((ulong)seed, CPU);
        var x = randn(new long[] { n, 4 }, generator: g);
        var y = x.select(1, 0).gt(0).logical_xor(x.select(1, 1).gt(0)).to_type(ScalarType.Int64);
        return (x, y);
    }

    /// <summary>One optimizer step on <paramref name="loss"/> inside its own dispose scope; returns the loss.</summary>
    public static double Step(optim.Optimizer optimizer, Func<Tensor> loss)
    {
        using var scope = NewDisposeScope();
        optimizer.zero_grad();
        var value = loss();
        value.backward();
        optimizer.step();
        return value.item<float>();
    }

    /// <summary>Mean negative response log-prob through the student contract (NLL for both kinds of student).</summary>
    public static Tensor Nll(IStudent student, ResponseBatch batch) => LogProbs.Sequence(student, batch).mean().neg();

    /// <summary>Fraction of rows whose argmax logit is the label.</summary>
    public static double Accuracy(IClassifierStudent student, Tensor x, Tensor y)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        return student.ClassLogits(x).argmax(1).eq(y).to_type(ScalarType.Float64).mean().item<double>();
    }

    /// <summary>Detached copies of the parameters.</summary>
    public static Tensor[] Snapshot(IStudent student) =>
        student.Parameters().Select(p => p.detach().clone()).ToArray();

    public static bool BitwiseEqual(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        return a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && a.cpu().eq(b.cpu()).all().item<bool>();
    }

    public static void Identical(Tensor expected, Tensor actual, string what) =>
        Assert.True(BitwiseEqual(expected, actual), $"{what}: tensors differ.");

    public static void SameParameters(IStudent a, IStudent b)
    {
        var pa = a.Parameters();
        var pb = b.Parameters();
        Assert.Equal(pa.Count, pb.Count);
        for (int i = 0; i < pa.Count; i++) Identical(pa[i], pb[i], $"parameter {i}");
    }

    /// <summary>Whether any parameter of the two students differs.</summary>
    public static bool AnyParameterDiffers(IStudent a, IStudent b) =>
        a.Parameters().Zip(b.Parameters()).Any(p => !BitwiseEqual(p.First, p.Second));

    /// <summary>A temporary file path removed on dispose.</summary>
    public sealed class TempFile : IDisposable
    {
        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"superalign-{Guid.NewGuid():N}.bin");

        public void Dispose()
        {
            if (File.Exists(Path)) File.Delete(Path);
        }
    }

    /// <summary>The exception's parameter name, for option-validation tests.</summary>
    public static void ThrowsNaming(string option, Action act)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(act);
        Assert.Equal(option, e.ParamName);
        Assert.Contains(option, e.Message);
    }

    /// <summary>Every trainable parameter of <paramref name="module"/>, by name.</summary>
    public static Dictionary<string, Parameter> NamedParameters(nn.Module module) =>
        module.named_parameters().ToDictionary(p => p.name, p => p.parameter);
}
