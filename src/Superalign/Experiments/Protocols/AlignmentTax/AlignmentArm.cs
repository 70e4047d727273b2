using System.Globalization;
using System.Text.Json.Serialization;
using Superalign.Optimization;

namespace Superalign.Experiments.Protocols;

/// <summary>Whose answers fill the preference pairs of an <see cref="AlignmentArm"/>.</summary>
public enum PairAnswers
{
    /// <summary>The correct results (the task's labels): a likelihood term on the chosen responses (ORPO) teaches arithmetic too.</summary>
    Correct,

    /// <summary>
    /// The base model's own greedy answers, right or wrong: the pairs say only what the value rule prefers (refuse,
    /// caveat, answer) and carry no competence signal beyond what the model already does, as pairs sampled from the SFT
    /// policy in RLHF do.
    /// </summary>
    Model,
}

/// <summary>How an arm's preference pairs are made: whose answers they hold and how often a weak judge flips them.</summary>
/// <param name="Answers">Whose answers fill the pairs.</param>
/// <param name="FlipRate">
/// Probability that a pair's chosen and rejected responses are swapped (a weak judge with symmetric label noise), in
/// [0, 0.5); drawn once per pair with the seed.
/// </param>
/// <param name="Judge">
/// A smaller language model that labels the pairs instead of the rule: trained with SFT on a few of the rule's
/// demonstrations, it prefers the response it gives the higher mean per-token log-probability. Null: the rule labels them.
/// </param>
public sealed record PairSource(PairAnswers Answers = PairAnswers.Correct, double FlipRate = 0,
    // Left out of JSON when null, so that options without a judge keep the fingerprint they had before judges existed.
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] LmJudge? Judge = null)
{
    /// <summary>The rule's pairs with the correct answers, unflipped.</summary>
    public static PairSource Oracle { get; } = new();

    /// <summary>A short label for tables: <c>rule</c>, <c>model answers</c>, <c>flip 20%</c>, …</summary>
    [JsonIgnore]
    public string Label => (Answers == PairAnswers.Model ? "model answers" : "rule") +
                           (Judge is { } judge ? $", labelled by {judge.Label}" : "") +
                           (FlipRate > 0 ? string.Create(CultureInfo.InvariantCulture, $", flip {FlipRate:P0}") : "");

    /// <summary>Whether a weak judge (flips or a small LM) labels the pairs rather than the rule.</summary>
    [JsonIgnore]
    public bool IsWeak => FlipRate > 0 || Judge is not null;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming <paramref name="owner"/> when the flip rate is out of range.</summary>
    public void Validate(string owner)
    {
        if (!(FlipRate >= 0 && FlipRate < 0.5))
            throw new ArgumentOutOfRangeException(nameof(FlipRate), FlipRate, $"{owner}: {nameof(PairSource)}.{nameof(FlipRate)} must be in [0, 0.5); got {FlipRate}.");
        if (!Enum.IsDefined(Answers))
            throw new ArgumentOutOfRangeException(nameof(Answers), Answers, $"{owner}: {nameof(PairSource)}.{nameof(Answers)} is not a known value.");
        Judge?.Validate(owner);
    }
}

/// <summary>A small language-model judge of the value rule (weak conformity supervision).</summary>
/// <param name="ModelDim">Width of its residual stream.</param>
/// <param name="Layers">Its transformer blocks.</param>
/// <param name="Heads">Its attention heads.</param>
/// <param name="Demonstrations">Training prompts (a seeded draw) whose conformant responses it is trained on: its labelled set.</param>
/// <param name="Steps">Its SFT updates (batch size and peak learning rate of the protocol's base).</param>
public sealed record LmJudge(int ModelDim = 32, int Layers = 1, int Heads = 2, int Demonstrations = 128, int Steps = 1000)
{
    /// <summary>A short label: <c>LM judge d32×1, 128 demos</c>.</summary>
    [JsonIgnore]
    public string Label => $"LM judge d{ModelDim}×{Layers}, {Demonstrations} demos";

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first field out of range.</summary>
    public void Validate(string owner)
    {
        ProtocolCheck.LanguageModel(ModelDim, Layers, Heads, $"{owner}: {nameof(LmJudge)}");
        ProtocolCheck.AtLeast(Demonstrations, 1, nameof(Demonstrations), $"{owner}: {nameof(LmJudge)}");
        ProtocolCheck.AtLeast(Steps, 0, nameof(Steps), $"{owner}: {nameof(LmJudge)}");
    }
}

/// <summary>
/// One training stage of an <see cref="AlignmentArm"/>: a schedule over a share of the arm's batch budget, trained by
/// its own optimizer (fresh AdamW state, its own warm-up and cosine decay), as SFT and DPO are separate runs in practice.
/// </summary>
/// <param name="Schedule">Which phase each update of the stage trains.</param>
/// <param name="BudgetShare">The stage's share of <see cref="AlignmentTaxOptions.BatchBudget"/>, in (0, 1]; an arm's shares sum to 1.</param>
/// <param name="ConformityLoss">The stage's conformity objective (<c>orpo</c>, <c>sigmoid</c> = DPO, …); null takes <see cref="AlignmentTaxOptions.ConformityLoss"/>.</param>
/// <param name="EqualUpdates">
/// For a joint schedule (both losses in one update, two batches): make as many updates as batches in the share (twice
/// the batches) instead of half as many (the same batches as the other arms).
/// </param>
public sealed record ArmStage(IAlternationSchedule Schedule, double BudgetShare = 1.0, string? ConformityLoss = null, bool EqualUpdates = false)
{
    /// <summary>The stage in words, e.g. <c>orpo ×0.5</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Schedule} ×{BudgetShare:0.##}") +
                                         (ConformityLoss is null ? "" : $" ({ConformityLoss})") + (EqualUpdates ? " (equal updates)" : "");
}

/// <summary>
/// An arm of <see cref="AlignmentTax"/>: stages trained in order from the seed's converged SFT base, and the preference
/// pairs its conformity steps use.
/// </summary>
/// <param name="Name">Short name for tables and JSON (e.g. <c>sft→orpo</c>).</param>
/// <param name="Stages">The stages, in order (at least one; budget shares summing to 1).</param>
/// <param name="Pairs">How its preference pairs are made; null = <see cref="PairSource.Oracle"/>.</param>
public sealed record AlignmentArm(string Name, IReadOnlyList<ArmStage> Stages, PairSource? Pairs = null)
{
    /// <summary>The pairs actually used (<see cref="PairSource.Oracle"/> when none is given).</summary>
    [JsonIgnore]
    public PairSource PairsOrOracle => Pairs ?? PairSource.Oracle;

    /// <summary>The arm in words: its stages joined by arrows, and its pairs.</summary>
    [JsonIgnore]
    public string Description => string.Join(" → ", Stages.Select(s => s.ToString())) + $"; pairs: {PairsOrOracle.Label}";

    /// <summary>One stage over the whole budget.</summary>
    public static AlignmentArm Single(string name, IAlternationSchedule schedule, string? conformityLoss = null, PairSource? pairs = null, bool equalUpdates = false) =>
        new(name, [new ArmStage(schedule, 1.0, conformityLoss, equalUpdates)], pairs);

    /// <summary>Two stages of half the budget each: <paramref name="first"/> only, then <paramref name="second"/> only.</summary>
    public static AlignmentArm TwoStage(string name, TrainingPhase first, TrainingPhase second, string? conformityLoss = null, PairSource? pairs = null) =>
        new(name, [new ArmStage(Only(first), 0.5, conformityLoss), new ArmStage(Only(second), 0.5, conformityLoss)], pairs);

    private static IAlternationSchedule Only(TrainingPhase phase) => phase switch
    {
        TrainingPhase.Competence => AlternationSchedules.CompetenceOnly(),
        TrainingPhase.Conformity => AlternationSchedules.ConformityOnly(),
        _ => throw new ArgumentOutOfRangeException(nameof(phase), phase, "A single-phase stage trains competence or conformity."),
    };

    /// <summary>
    /// The arms of the alignment-tax comparison, each from the converged SFT base on the same batch budget:
    /// competence-only (the control: does more SFT still move?); conformity-only; sequential SFT→ORPO and SFT→DPO (half
    /// the budget each, each stage its own optimizer); the reverse order ORPO→SFT; joint (ORPO and SFT summed in one
    /// update) at equal batches and at equal updates; alternating at 1:3, 1:1 and 3:1 (competence:conformity updates,
    /// the trade-off curve) and alternating with DPO; and, with pairs of the model's own answers (no competence signal),
    /// SFT→ORPO and alternating 1:1; and SFT→ORPO on pairs a weak judge flipped at 10%, 20% and 30% (weak conformity
    /// supervision, its ceiling being SFT→ORPO).
    /// </summary>
    public static IReadOnlyList<AlignmentArm> Defaults()
    {
        var modelAnswers = new PairSource(PairAnswers.Model);
        return
        [
            Single("competence-only", AlternationSchedules.CompetenceOnly()),
            Single("conformity-only", AlternationSchedules.ConformityOnly()),
            TwoStage("sft→orpo", TrainingPhase.Competence, TrainingPhase.Conformity),
            TwoStage("sft→dpo", TrainingPhase.Competence, TrainingPhase.Conformity, "sigmoid"),
            TwoStage("orpo→sft", TrainingPhase.Conformity, TrainingPhase.Competence),
            Single("joint", AlternationSchedules.Joint(1.0, 1.0)),
            Single("joint-equal-updates", AlternationSchedules.Joint(1.0, 1.0), equalUpdates: true),
            Single("alternating-1:3", AlternationSchedules.FixedRatio(1, 3)),
            Single("alternating-1:1", AlternationSchedules.FixedRatio(1, 1)),
            Single("alternating-3:1", AlternationSchedules.FixedRatio(3, 1)),
            TwoStage("sft→orpo/model-answers", TrainingPhase.Competence, TrainingPhase.Conformity, pairs: modelAnswers),
            Single("alternating-1:1/model-answers", AlternationSchedules.FixedRatio(1, 1), pairs: modelAnswers),
            TwoStage("sft→orpo/flip-10%", TrainingPhase.Competence, TrainingPhase.Conformity, pairs: new PairSource(FlipRate: 0.1)),
            TwoStage("sft→orpo/flip-20%", TrainingPhase.Competence, TrainingPhase.Conformity, pairs: new PairSource(FlipRate: 0.2)),
            TwoStage("sft→orpo/flip-30%", TrainingPhase.Competence, TrainingPhase.Conformity, pairs: new PairSource(FlipRate: 0.3)),
        ];
    }

    /// <summary>
    /// The weak-conformity arms: SFT→ORPO on the rule's pairs (the ceiling) and on pairs labelled by small LM judges
    /// (d16 and d32, one block, trained on 128 demonstrations of the rule), and by a judge flipping 20% of them.
    /// </summary>
    public static IReadOnlyList<AlignmentArm> WeakJudges() =>
    [
        TwoStage("sft→orpo", TrainingPhase.Competence, TrainingPhase.Conformity),
        TwoStage("sft→orpo/lm-judge-d16", TrainingPhase.Competence, TrainingPhase.Conformity, pairs: new PairSource(Judge: new LmJudge(ModelDim: 16))),
        TwoStage("sft→orpo/lm-judge-d32", TrainingPhase.Competence, TrainingPhase.Conformity, pairs: new PairSource(Judge: new LmJudge(ModelDim: 32))),
        TwoStage("sft→orpo/flip-20%", TrainingPhase.Competence, TrainingPhase.Conformity, pairs: new PairSource(FlipRate: 0.2)),
    ];

    /// <summary>The paired comparisons <see cref="AlignmentArm.Defaults"/> reports: each alternating arm against its sequential twin.</summary>
    public static IReadOnlyList<ArmComparison> DefaultComparisons() =>
    [
        new("alternating-1:1", "sft→orpo"),
        new("alternating-1:1", "sft→dpo"),
        new("alternating-1:1/model-answers", "sft→orpo/model-answers"),
        new("alternating-1:1", "orpo→sft"),
        new("alternating-1:1", "joint"),
        new("joint-equal-updates", "joint"),
    ];
}

/// <summary>A paired comparison to report: <paramref name="First"/> − <paramref name="Second"/>, per seed.</summary>
/// <param name="First">The arm whose scores are taken.</param>
/// <param name="Second">The arm whose scores are subtracted.</param>
public sealed record ArmComparison(string First, string Second);
