using Superalign.Experiments.Protocols;
using Superalign.Experiments.Tasks;
using Xunit;

namespace Superalign.Tests.Experiments.Protocols;

public class SelfEnhancementTests
{
    [Fact]
    public void Rounds_report_scores_agreement_and_diversity_for_each_judge()
    {
        var options = new SelfEnhancementOptions
        {
            Seeds = [5],
            Judges = [FeedbackJudge.Oracle, FeedbackJudge.Self, FeedbackJudge.Peer],
            ModelDim = 32, Layers = 1, Heads = 2,
            SftSteps = 80, Rounds = 2, PromptsPerRound = 96, StepsPerRound = 10,
            DiversityPrompts = 40, DiversitySamples = 3,
        };
        var result = new SelfEnhancement(options).Run();
        Assert.Equal(3, result.Runs.Count);
        Assert.Equal(135, result.Demonstrations);
        foreach (var run in result.Runs)
        {
            Assert.Equal([0, 1, 2], run.Rounds.Select(r => r.Round));
            Assert.Equal(0, run.Rounds[0].Pairs);
            foreach (var round in run.Rounds)
            {
                Assert.InRange(round.Diversity, 1.0 / 3 - 1e-12, 1.0);
                Assert.InRange(round.Pairs, 0, options.PromptsPerRound);
                Assert.InRange(round.DecisivePairs, 0, round.Pairs);
            }
        }
        // All judges start from the same SFT policy.
        Assert.Single(result.Runs.Select(r => r.Rounds[0]).Distinct());
        // The oracle judge is the checkers, so it agrees with them on every decisive pair.
        foreach (var round in result.Runs.Single(r => r.Judge == FeedbackJudge.Oracle).Rounds.Skip(1).Where(r => r.DecisivePairs > 0))
            Assert.Equal(1.0, round.JudgeAgreement);
        Assert.Equal(3 * 3, result.Summaries.Count);
        var back = ProtocolJson.Deserialize<SelfEnhancementResult>(ProtocolJson.Serialize(result));
        Assert.Equal(result.Runs[1].Rounds[2].Scores, back.Runs[1].Rounds[2].Scores);
    }

    [Theory]
    [InlineData(3, '-', 5, "~-2", 3)]
    [InlineData(3, '-', 5, "~-3", 2)]
    [InlineData(3, '-', 5, "-2", 1)]
    [InlineData(3, '-', 5, "#", 0)]
    [InlineData(7, '+', 5, "#", 2)]
    [InlineData(7, '+', 5, "12", 0)]
    public void Checker_rank_puts_conformity_before_correctness(int left, char op, int right, string response, int rank) =>
        Assert.Equal(rank, SelfEnhancement.Truth(new ValueConflictTask(), new ArithmeticPrompt(left, op, right), response));

    [Fact]
    public void Options_are_validated_by_name()
    {
        Assert.Equal("Judges", Assert.Throws<ArgumentOutOfRangeException>(() => new SelfEnhancement(new SelfEnhancementOptions { Judges = [] })).ParamName);
        Assert.Equal("DemonstrationFraction", Assert.Throws<ArgumentOutOfRangeException>(() => new SelfEnhancement(new SelfEnhancementOptions { DemonstrationFraction = 0 })).ParamName);
        Assert.Equal("DiversitySamples", Assert.Throws<ArgumentOutOfRangeException>(() => new SelfEnhancement(new SelfEnhancementOptions { DiversitySamples = 1 })).ParamName);
        Assert.Equal("ConformityLoss", Assert.Throws<ArgumentOutOfRangeException>(() => new SelfEnhancement(new SelfEnhancementOptions { ConformityLoss = "x" })).ParamName);
    }

    [Fact]
    public void Round_prompt_seeds_are_the_same_in_every_process()
    {
        // A golden value computed by hand from Mix(s, k) = s·7919 + k·104729 + 17 (wrapping int arithmetic), nested as
        // Mix(Mix(seed, 6), 16·round + judge): a per-process randomised hash (HashCode.Combine, used before) could not
        // reproduce it in a new process.
        int inner = unchecked(3 * 7919 + 6 * 104729 + 17);
        Assert.Equal(unchecked(inner * 7919 + (16 * 2 + 1) * 104729 + 17), SelfEnhancement.RoundPromptSeed(3, 2, FeedbackJudge.Peer));
        var all = from seed in Enumerable.Range(0, 20) from round in Enumerable.Range(1, 5) from judge in Enum.GetValues<FeedbackJudge>()
                  select SelfEnhancement.RoundPromptSeed(seed, round, judge);
        Assert.Equal(20 * 5 * 3, all.Distinct().Count());
    }
}
