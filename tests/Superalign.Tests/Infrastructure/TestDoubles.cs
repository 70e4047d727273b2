using Superalign.Students;
using TorchSharp;
using static TorchSharp.torch;

namespace Superalign.Tests.Infrastructure;

/// <summary>A linear softmax classifier: the smallest student, for optimizer tests independent of the shipped models.</summary>
public sealed class LinearTestStudent : TorchStudent
{
    private readonly int _features, _classes;

    public LinearTestStudent(int features, int classes, long seed, Device? device = null)
        : base("linear-test", Build(features, classes, seed), device ?? CPU)
    {
        (_features, _classes) = (features, classes);
    }

    private static nn.Module Build(int features, int classes, long seed)
    {
        manual_seed(seed);
        return nn.Linear(features, classes);
    }

    public nn.Module<Tensor, Tensor> Layer => (nn.Module<Tensor, Tensor>)Module;

    public override Tensor Logits(ResponseBatch batch) => Layer.call(batch.Inputs).unsqueeze(1);

    protected override TorchStudent CreateSibling() => new LinearTestStudent(_features, _classes, 0, Device);
}

/// <summary>Mean masked cross-entropy to hard targets, written independently of the library's objectives.</summary>
public sealed class TestCrossEntropy : ICompetenceObjective
{
    public string Name => "test-ce";
    public bool RequiresSoftTargets => false;
    public Tensor Loss(CompetenceInput input)
    {
        var logp = input.Logits.log_softmax(-1).gather(-1, input.Targets.unsqueeze(-1)).squeeze(-1);
        return -(logp * input.Mask).sum() / input.Mask.sum();
    }
}

/// <summary>DPO's sigmoid loss, written independently of the library's objectives.</summary>
public sealed class TestDpo(double beta = 0.5) : IConformityObjective
{
    public string Name => "test-dpo";
    public bool RequiresReference => true;
    public ConformityOutput Compute(PreferenceLogProbs p)
    {
        var cl = p.PolicyChosen - p.RequireReferenceChosen();
        var rl = p.PolicyRejected - p.RequireReferenceRejected();
        var loss = -nn.functional.logsigmoid(beta * (cl - rl)).mean();
        return new ConformityOutput(loss, (beta * cl).detach(), (beta * rl).detach());
    }
}

/// <summary>A loss that turns NaN on request, to test the optimizer's guard.</summary>
public sealed class PoisonedObjective(ICompetenceObjective inner) : ICompetenceObjective
{
    public bool Poison { get; set; }
    public string Name => "poisoned";
    public bool RequiresSoftTargets => false;
    public Tensor Loss(CompetenceInput input) => Poison ? inner.Loss(input) * double.NaN : inner.Loss(input);
}

/// <summary>A seeded toy task: Gaussian features, labels from a random linear rule, preferences for a "value" rule.</summary>
public static class ToyData
{
    public static (Tensor X, Tensor Y) Classification(int n, int features, int classes, long seed)
    {
        var g = new Generator((ulong)seed);
        var x = randn(new long[] { n, features }, generator: g);
        var w = randn(new long[] { features, classes }, generator: g);
        return (x, x.matmul(w).argmax(1));
    }
}
