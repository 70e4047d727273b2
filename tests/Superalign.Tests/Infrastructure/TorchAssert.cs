using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Infrastructure;

/// <summary>Assertions on tensors, with tolerances stated at the call site.</summary>
public static class TorchAssert
{
    public static void Close(double expected, double actual, double absTol, double relTol = 0, string? what = null)
    {
        double tol = absTol + relTol * Math.Abs(expected);
        Assert.True(Math.Abs(expected - actual) <= tol,
            $"{what ?? "value"}: expected {expected:R}, got {actual:R} (|diff| = {Math.Abs(expected - actual):E3} > tol {tol:E3})");
    }

    public static void Close(Tensor expected, Tensor actual, double absTol, double relTol = 0, string? what = null)
    {
        Assert.Equal(expected.shape, actual.shape);
        var e = expected.to_type(ScalarType.Float64).cpu().data<double>().ToArray();
        var a = actual.to_type(ScalarType.Float64).cpu().data<double>().ToArray();
        for (int i = 0; i < e.Length; i++) Close(e[i], a[i], absTol, relTol, $"{what ?? "tensor"}[{i}]");
    }
}
