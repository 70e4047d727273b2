using Microsoft.Extensions.Logging.Abstractions;
using Superalign.Experiments.Metrics;
using Superalign.Experiments.Tasks;

namespace Superalign.Experiments.Protocols;

/// <summary>The policy after one round of self-enhancement (round 0: after SFT, before any feedback).</summary>
/// <param name="Round">Round number (0 = the SFT policy).</param>
/// <param name="Scores">Held-out competence and conformity (greedy decoding).</param>
/// <param name="Pairs">Response pairs judged this round (identical pairs are dropped); 0 for round 0.</param>
/// <param name="JudgeAgreement">
/// Fraction of this round's pairs on which the judge prefers the response the exact checkers rank higher (conformant
/// beats non-conformant; then correct beats incorrect), over the pairs the checkers rank differently; NaN when none.
/// </param>
/// <param name="DecisivePairs">Pairs the checkers rank differently (the denominator of the agreement).</param>
/// <param name="Diversity">Mean fraction of distinct responses among several samples per held-out prompt (1 = all differ; 1/k = collapsed).</param>
public sealed record RoundResult(int Round, ValueConflictScores Scores, int Pairs, double JudgeAgreement, int DecisivePairs, double Diversity);

/// <summary>One (judge, seed) run: the policy after each round.</summary>
/// <param name="Judge">The judge.</param>
/// <param name="Seed">The seed.</param>
/// <param name="Rounds">Round 0 (SFT) and every feedback round.</param>
/// <param name="Seconds">Wall time of the rounds.</param>
public sealed record SelfEnhancementRun(FeedbackJudge Judge, int Seed, IReadOnlyList<RoundResult> Rounds, double Seconds)
{
    /// <summary>
    /// For the <see cref="FeedbackJudge.Verifier"/> judge: the fraction of held-out responses (one sample of the SFT
    /// policy per held-out prompt) whose checkers' rank the verifier predicts exactly; null for other judges.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public double? VerifierAccuracy { get; init; }
}

/// <summary>Per judge and round, the results over seeds.</summary>
/// <param name="Judge">The judge.</param>
/// <param name="Round">The round.</param>
/// <param name="Competence">Held-out competence over seeds.</param>
/// <param name="Conformity">Held-out conformity over seeds.</param>
/// <param name="JudgeAgreement">Judge agreement over seeds (null for round 0 or when undefined).</param>
/// <param name="Diversity">Diversity over seeds.</param>
public sealed record RoundSummary(FeedbackJudge Judge, int Round, SummaryStatistics Competence, SummaryStatistics Conformity, SummaryStatistics? JudgeAgreement, SummaryStatistics Diversity);

/// <summary>The result of <see cref="SelfEnhancement"/>.</summary>
/// <param name="Options">The options.</param>
/// <param name="TrainPrompts">Training prompts per seed.</param>
/// <param name="TestPrompts">Held-out prompts per seed.</param>
/// <param name="Demonstrations">Training prompts with a demonstration of the rule, per seed.</param>
/// <param name="Runs">Every (judge, seed) run.</param>
/// <param name="Summaries">Per judge and round, over seeds.</param>
/// <param name="WallSeconds">Wall time of the protocol.</param>
public sealed record SelfEnhancementResult(SelfEnhancementOptions Options, int TrainPrompts, int TestPrompts, int Demonstrations,
    IReadOnlyList<SelfEnhancementRun> Runs, IReadOnlyList<RoundSummary> Summaries, double WallSeconds) : IProtocolResult;
