using Superalign.Supervision;
using Superalign.Tests.Infrastructure;
using Xunit;
using static Superalign.Tests.Supervision.SupervisionTestKit;
using static TorchSharp.torch;

namespace Superalign.Tests.Supervision;

public sealed class EnsembleSupervisorTests
{
    // Three members, three examples, three classes.
    //            row 0 (argmax)        row 1 (argmax)        row 2 (argmax)
    //   m1  [0.6, 0.3, 0.1] (0)   [0.2, 0.5, 0.3] (1)   [0.7, 0.2, 0.1] (0)
    //   m2  [0.5, 0.4, 0.1] (0)   [0.1, 0.2, 0.7] (2)   [0.8, 0.1, 0.1] (0)
    //   m3  [0.1, 0.8, 0.1] (1)   [0.3, 0.3, 0.4] (2)   [0.6, 0.3, 0.1] (0)
    private static readonly ILabelSupervisor[] Members =
    {
        new FixedSupervisor("m1", new[,] { { 0.6, 0.3, 0.1 }, { 0.2, 0.5, 0.3 }, { 0.7, 0.2, 0.1 } }),
        new FixedSupervisor("m2", new[,] { { 0.5, 0.4, 0.1 }, { 0.1, 0.2, 0.7 }, { 0.8, 0.1, 0.1 } }),
        new FixedSupervisor("m3", new[,] { { 0.1, 0.8, 0.1 }, { 0.3, 0.3, 0.4 }, { 0.6, 0.3, 0.1 } }),
    };

    private static Tensor X => zeros(3, 2);

    private static Tensor Matrix(params double[] values) => tensor(values.Select(v => (float)v).ToArray(), new long[] { 3, 3 });

    [Fact]
    public void Mean_averages_the_members()
    {
        using var scope = NewDisposeScope();
        var x = X;
        var ensemble = new EnsembleSupervisor(Members);
        // row 0: [1.2, 1.5, 0.3]/3; row 1: [0.6, 1.0, 1.4]/3; row 2: [2.1, 0.6, 0.3]/3
        var expected = Matrix(0.4, 0.5, 0.1, 0.2, 1.0 / 3, 1.4 / 3, 0.7, 0.2, 0.1);

        TorchAssert.Close(expected, LeavesOnly(1, () => ensemble.Label(x)), 1e-6, what: "mean");
        Assert.Equal(new long[] { 3, 3, 3 }, ensemble.MemberLabels(x).shape);
    }

    [Fact]
    public void Majority_vote_is_one_hot_on_the_most_chosen_class()
    {
        using var scope = NewDisposeScope();
        var x = X;
        var ensemble = new EnsembleSupervisor(Members, EnsembleCombination.MajorityVote);
        // Votes: row 0 → 0, 0, 1 (class 0, although the mean's argmax is 1); row 1 → 1, 2, 2; row 2 → 0, 0, 0.
        TorchAssert.Close(Matrix(1, 0, 0, 0, 0, 1, 1, 0, 0), ensemble.Label(x), 0, what: "vote");
    }

    [Fact]
    public void Vote_ties_go_to_the_highest_mean_probability()
    {
        using var scope = NewDisposeScope();
        var x = X;
        // One vote each for 0, 1, 2; mean probabilities [0.3, 0.333, 0.367] → class 2.
        var members = new ILabelSupervisor[]
        {
            new FixedSupervisor("a", new[,] { { 0.4, 0.35, 0.25 } }),
            new FixedSupervisor("b", new[,] { { 0.3, 0.4, 0.3 } }),
            new FixedSupervisor("c", new[,] { { 0.2, 0.25, 0.55 } }),
        };
        var label = new EnsembleSupervisor(members, EnsembleCombination.MajorityVote).Label(zeros(1, 2));
        Assert.Equal(new[] { 0f, 0f, 1f }, Floats(label));
    }

    [Fact]
    public void Confidence_weighting_by_max_probability()
    {
        using var scope = NewDisposeScope();
        var x = X;
        var ensemble = new EnsembleSupervisor(Members, EnsembleCombination.ConfidenceWeighted, ConfidenceMeasure.MaxProbability);
        // row 0: weights 0.6, 0.5, 0.8 (sum 1.9): [0.36 + 0.25 + 0.08, 0.18 + 0.20 + 0.64, 0.06 + 0.05 + 0.08] / 1.9
        // row 1: weights 0.5, 0.7, 0.4 (sum 1.6): [0.10 + 0.07 + 0.12, 0.25 + 0.14 + 0.12, 0.15 + 0.49 + 0.16] / 1.6
        // row 2: weights 0.7, 0.8, 0.6 (sum 2.1): [0.49 + 0.64 + 0.36, 0.14 + 0.08 + 0.18, 0.07 + 0.08 + 0.06] / 2.1
        var expected = Matrix(0.69 / 1.9, 1.02 / 1.9, 0.19 / 1.9, 0.29 / 1.6, 0.51 / 1.6, 0.8 / 1.6, 1.49 / 2.1, 0.4 / 2.1, 0.21 / 2.1);
        TorchAssert.Close(expected, ensemble.Label(x), 1e-6, what: "max-prob weighted");
    }

    [Fact]
    public void Confidence_weighting_by_inverse_entropy()
    {
        using var scope = NewDisposeScope();
        var x = X;
        // A uniform member has weight 1 − log 3 / log 3 = 0; a one-hot member weight 1.
        var members = new ILabelSupervisor[]
        {
            new FixedSupervisor("uniform", new[,] { { 1 / 3.0, 1 / 3.0, 1 / 3.0 }, { 1 / 3.0, 1 / 3.0, 1 / 3.0 } }),
            new FixedSupervisor("sure", new[,] { { 0, 1, 0 }, { 1 / 3.0, 1 / 3.0, 1 / 3.0 } }),
        };
        var label = new EnsembleSupervisor(members, EnsembleCombination.ConfidenceWeighted, ConfidenceMeasure.InverseEntropy).Label(zeros(2, 2));
        // Row 0 follows the sure member alone; in row 1 all weights are 0 and the mean is used.
        TorchAssert.Close(tensor(new[] { 0f, 1f, 0f, 1 / 3f, 1 / 3f, 1 / 3f }, new long[] { 2, 3 }), label, 1e-6, what: "entropy weighted");

        // The hand-made case against the formula written out with scalars.
        var members3 = new[]
        {
            new[] { new[] { 0.6, 0.3, 0.1 }, new[] { 0.2, 0.5, 0.3 }, new[] { 0.7, 0.2, 0.1 } },
            new[] { new[] { 0.5, 0.4, 0.1 }, new[] { 0.1, 0.2, 0.7 }, new[] { 0.8, 0.1, 0.1 } },
            new[] { new[] { 0.1, 0.8, 0.1 }, new[] { 0.3, 0.3, 0.4 }, new[] { 0.6, 0.3, 0.1 } },
        };
        var expected = new double[9];
        for (int b = 0; b < 3; b++)
        {
            var w = members3.Select(m => 1 + m[b].Sum(p => p * Math.Log(p)) / Math.Log(3)).ToArray();
            for (int c = 0; c < 3; c++) expected[3 * b + c] = Enumerable.Range(0, 3).Sum(m => w[m] * members3[m][b][c]) / w.Sum();
        }
        var weighted = new EnsembleSupervisor(Members, EnsembleCombination.ConfidenceWeighted, ConfidenceMeasure.InverseEntropy).Label(x);
        TorchAssert.Close(Matrix(expected), weighted, 1e-6, what: "entropy weighted, 3 members");
    }

    [Fact]
    public void Disagreement_counts_split_votes_and_mean_pairwise_total_variation()
    {
        using var scope = NewDisposeScope();
        var x = X;
        var ensemble = new EnsembleSupervisor(Members);

        var d = LeavesOnly(0, () => ensemble.Disagreement(x));

        // Votes split in rows 0 and 1, agree in row 2 → 2/3.
        Assert.Equal(2 / 3.0, d.ArgmaxDisagreement, 12);
        // TV (½ L1) per pair (m1m2, m1m3, m2m3): row 0 → 0.1, 0.5, 0.4; row 1 → 0.4, 0.2, 0.3; row 2 → 0.1, 0.1, 0.2.
        // Row means 1/3, 0.3, 0.4/3; overall (1/3 + 0.3 + 0.4/3) / 3 = 0.255556.
        Assert.Equal((1 / 3.0 + 0.3 + 0.4 / 3) / 3, d.MeanPairwiseTotalVariation, 6);
        Assert.Equal(3, d.Examples);

        var single = new EnsembleSupervisor(Members.Take(1)).Disagreement(x);
        Assert.Equal(new EnsembleDisagreement(0, 0, 3), single);
    }

    [Fact]
    public void Agreement_weights_are_the_share_of_members_voting_for_the_combined_class()
    {
        using var scope = NewDisposeScope();
        var x = X;
        // Mean: argmax row 0 = 1 (only m3 votes 1), row 1 = 2 (m2, m3), row 2 = 0 (all).
        var (labels, weights) = LeavesOnly(2, () => new EnsembleSupervisor(Members).LabelWithAgreement(x));
        TorchAssert.Close(tensor(new[] { 1 / 3f, 2 / 3f, 1f }), weights, 1e-6, what: "mean agreement");
        Assert.Equal(new long[] { 3, 3 }, labels.shape);
        // Vote: row 0 = 0 (m1, m2), row 1 = 2 (m2, m3), row 2 = 0 (all).
        var voteWeights = LeavesOnly(1, () => new EnsembleSupervisor(Members, EnsembleCombination.MajorityVote).AgreementWeights(x));
        TorchAssert.Close(tensor(new[] { 2 / 3f, 2 / 3f, 1f }), voteWeights, 1e-6, what: "vote agreement");
    }

    [Fact]
    public void Bad_inputs_are_reported_clearly()
    {
        Assert.Equal("members", Assert.Throws<ArgumentException>(() => new EnsembleSupervisor(Array.Empty<ILabelSupervisor>())).ParamName);
        Assert.Equal("members", Assert.Throws<ArgumentException>(() => new EnsembleSupervisor(new ILabelSupervisor[] { Members[0], null! })).ParamName);
        Assert.Equal("combination", Assert.Throws<ArgumentOutOfRangeException>(() => new EnsembleSupervisor(Members, (EnsembleCombination)9)).ParamName);
        Assert.Equal("confidence", Assert.Throws<ArgumentOutOfRangeException>(() => new EnsembleSupervisor(Members, confidence: (ConfidenceMeasure)9)).ParamName);

        using var scope = NewDisposeScope();
        var x = X;
        var mixed = new EnsembleSupervisor(new ILabelSupervisor[] { Members[0], new FixedSupervisor("two-class", new[,] { { 0.5, 0.5 }, { 0.5, 0.5 }, { 0.5, 0.5 } }) });
        Assert.Contains("two-class", Assert.Throws<InvalidOperationException>(() => mixed.Label(x)).Message);
        var wrongBatch = new EnsembleSupervisor(Members);
        Assert.Throws<InvalidOperationException>(() => wrongBatch.Label(zeros(2, 2)));
        Assert.Equal("features", Assert.Throws<ArgumentException>(() => wrongBatch.Label(zeros(3))).ParamName);
        Assert.Equal("features", Assert.Throws<ArgumentException>(() => wrongBatch.Disagreement(zeros(0, 2))).ParamName);
    }
}
