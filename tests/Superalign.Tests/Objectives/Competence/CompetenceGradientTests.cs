using Superalign.Objectives.Competence;
using Superalign.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Objectives.Competence;

/// <summary>Autograd gradients with respect to the logits against central finite differences (float64).</summary>
public sealed class CompetenceGradientTests
{
    private const double H = 1e-5;

    public static TheoryData<string, int, int, int> Cases()
    {
        var data = new TheoryData<string, int, int, int>();
        foreach (var name in CompetenceReferenceTests.Objectives.Keys)
        {
            data.Add(name, 6, 1, 2);  // binary classifier
            data.Add(name, 3, 4, 3);  // LM-shaped, ragged mask
        }
        return data;
    }

    private static double[] Analytic(ICompetenceObjective objective, CompetenceCase k)
    {
        var logits = k.LogitsTensor().requires_grad_(true);
        objective.Loss(k.ToInput(logits: logits)).backward();
        return logits.grad!.data<double>().ToArray();
    }

    private static double[] Numeric(Func<CompetenceCase, double> loss, CompetenceCase k)
    {
        var grad = new double[k.Logits.Length];
        for (int i = 0; i < grad.Length; i++)
        {
            var plus = (double[])k.Logits.Clone();
            var minus = (double[])k.Logits.Clone();
            plus[i] += H;
            minus[i] -= H;
            grad[i] = (loss(k with { Logits = plus }) - loss(k with { Logits = minus })) / (2 * H);
        }
        return grad;
    }

    private static void AssertClose(double[] expected, double[] actual, string what)
    {
        Assert.Contains(actual, g => Math.Abs(g) > 1e-3); // a vanishing gradient would make the check vacuous
        for (int i = 0; i < expected.Length; i++) TorchAssert.Close(expected[i], actual[i], 1e-7, 1e-6, $"{what} d/dlogit[{i}]");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientMatchesFiniteDifferences(string name, int b, int t, int v)
    {
        using var scope = NewDisposeScope();
        var k = CompetenceCase.Random(31 + b + t + v, b, t, v);
        if (name == "logconf mid-warmup") k = k with { StepFraction = 0.07 };
        var objective = CompetenceReferenceTests.Objectives[name].Create();
        double Loss(CompetenceCase c) => objective.Loss(c.ToInput()).item<double>();

        if (objective is ProductObjective product)
        {
            // The product target is detached: the gradient is that of xent to the target frozen at these logits.
            var frozen = new double[k.Logits.Length];
            foreach (int i in k.Scored)
                Array.Copy(ScalarReference.ProductTarget(k.LogitRow(i), k.SoftRow(i), product.Alpha, product.Beta), 0, frozen, i * v, v);
            var xent = new SoftCrossEntropyObjective();
            AssertClose(Numeric(c => xent.Loss((c with { Soft = frozen }).ToInput()).item<double>(), k), Analytic(objective, k), name);
            return;
        }
        // logconf's hardened labels are piecewise constant in the logits, so differencing the loss itself is valid.
        AssertClose(Numeric(Loss, k), Analytic(objective, k), name);
    }

    [Fact]
    public void MaskedPositionsGetZeroGradient()
    {
        using var scope = NewDisposeScope();
        var k = CompetenceCase.Random(8, 3, 5, 4);
        foreach (var (name, (create, _)) in CompetenceReferenceTests.Objectives)
        {
            var grad = Analytic(create(), k);
            for (int i = 0; i < k.Positions; i++)
                if (k.Mask[i] == 0)
                    for (int c = 0; c < k.V; c++) Assert.True(grad[i * k.V + c] == 0, $"{name}: gradient at masked position {i}");
        }
    }
}
