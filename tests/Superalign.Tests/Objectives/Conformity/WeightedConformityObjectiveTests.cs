using Superalign.Objectives;
using Superalign.Objectives.Conformity;
using Superalign.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Objectives.Conformity;

public class WeightedConformityObjectiveTests
{
    [Fact]
    public void Name_lists_the_parts_with_their_weights()
    {
        Assert.Equal("sigmoid+0.5*ipo", new WeightedConformityObjective((new SigmoidObjective(), 1.0), (new IpoObjective(), 0.5)).Name);
        Assert.Equal("2*simpo+0*cpo", new WeightedConformityObjective((new SimpoObjective(), 2.0), (new CpoObjective(), 0.0)).Name);
    }

    [Fact]
    public void Requires_a_reference_when_any_part_does()
    {
        Assert.False(new WeightedConformityObjective((new SimpoObjective(), 1.0), (new OrpoObjective(), 1.0)).RequiresReference);
        Assert.True(new WeightedConformityObjective((new SimpoObjective(), 1.0), (new SigmoidObjective(), 0.1)).RequiresReference);
        using var scope = NewDisposeScope();
        var noReference = Inputs.From(Inputs.Random(4, 1), reference: false);
        new WeightedConformityObjective((new SimpoObjective(), 1.0), (new OrpoObjective(), 1.0)).Compute(noReference);
        Assert.Throws<InvalidOperationException>(() => new WeightedConformityObjective((new SimpoObjective(), 1.0), (new SigmoidObjective(), 0.1)).Compute(noReference));
    }

    [Fact]
    public void Rpo_style_sum_matches_the_scalar_reference_and_reports_the_first_parts_rewards()
    {
        // A two-part sum checked against the independent scalar formulas; the rewards are the first part's (ipo: per token).
        var pairs = Inputs.Random(7, 3);
        var s = new Settings(Beta: 0.2, Alpha: 1.0);
        var weighted = new WeightedConformityObjective((new IpoObjective(0.2), 1.0), (new CpoObjective(0.2, 1.0), 0.25));
        double expected = ScalarConformity.Expected("ipo", pairs, s).Loss + 0.25 * ScalarConformity.Expected("cpo", pairs, s).Loss;
        using var scope = NewDisposeScope();
        var result = weighted.Compute(Inputs.From(pairs));
        TorchAssert.Close(expected, result.Loss.ToDouble(), 1e-10, 1e-10);
        var (_, chosen, rejected) = ScalarConformity.Expected("ipo", pairs, s);
        TorchAssert.Close(tensor(chosen), result.ChosenRewards, 1e-12, 1e-12, "chosen rewards");
        TorchAssert.Close(tensor(rejected), result.RejectedRewards, 1e-12, 1e-12, "rejected rewards");
        Assert.False(result.ChosenRewards.requires_grad);
    }

    [Fact]
    public void Invalid_components_are_rejected()
    {
        var dpo = new SigmoidObjective();
        Assert.Throws<ArgumentException>(() => new WeightedConformityObjective());
        Assert.Throws<ArgumentNullException>(() => new WeightedConformityObjective(((IConformityObjective)null!, 1.0)));
        foreach (double w in new[] { -0.5, double.NaN, double.PositiveInfinity })
            Assert.Equal("components", Assert.Throws<ArgumentOutOfRangeException>(() => new WeightedConformityObjective((dpo, 1.0), (dpo, w))).ParamName);
        Assert.Equal("components", Assert.Throws<ArgumentOutOfRangeException>(() => new WeightedConformityObjective((dpo, 0.0), (dpo, 0.0))).ParamName);
    }

    [Fact]
    public void Compute_leaves_only_its_results_behind()
    {
        var weighted = new WeightedConformityObjective((new SigmoidObjective(), 1.0), (new IpoObjective(), 0.5), (new OrpoObjective(), 2.0));
        var logps = Inputs.From(Inputs.Random(5, 4));
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var result = weighted.Compute(logps);
        Assert.Equal(before + 3, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        result.Loss.Dispose();
        result.ChosenRewards.Dispose();
        result.RejectedRewards.Dispose();
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
