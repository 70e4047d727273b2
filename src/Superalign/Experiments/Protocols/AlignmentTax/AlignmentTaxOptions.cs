using System.Text.Json.Serialization;
using Superalign.Experiments.Tasks;

namespace Superalign.Experiments.Protocols;

/// <summary>Options of <see cref="AlignmentTax"/>; validated when the protocol is created.</summary>
public sealed record AlignmentTaxOptions : IProtocolOptions
{
    /// <summary>The value-conflict task (its split seed is replaced by each run's seed).</summary>
    public ValueConflictTaskOptions Task { get; init; } = new();

    /// <summary>Seeds: each gives its own split, initial weights, base model, batch order and pair flips. At least one; distinct.</summary>
    public IReadOnlyList<int> Seeds { get; init; } = [0, 1, 2];

    /// <summary>The arms (at least one; distinct names).</summary>
    public IReadOnlyList<AlignmentArm> Arms { get; init; } = AlignmentArm.Defaults();

    /// <summary>The paired differences to report (arms by name; pairs naming an arm not compared are skipped).</summary>
    public IReadOnlyList<ArmComparison> Comparisons { get; init; } = AlignmentArm.DefaultComparisons();

    /// <summary>The arms' names and descriptions, as written to JSON.</summary>
    [JsonIgnore]
    public IReadOnlyList<string> ArmNames => Arms.Select(a => $"{a.Name}: {a.Description}").ToList();

    /// <summary>Width of the tiny LM's residual stream.</summary>
    public int ModelDim { get; init; } = 64;

    /// <summary>Transformer blocks of the tiny LM.</summary>
    public int Layers { get; init; } = 2;

    /// <summary>Attention heads of the tiny LM.</summary>
    public int Heads { get; init; } = 4;

    /// <summary>
    /// SFT updates of the base every arm starts from; the default (3,000 at <see cref="PretrainLearningRate"/>) brings
    /// held-out competence to its plateau, which the competence-only arm checks (more SFT should not move it).
    /// </summary>
    public int PretrainSteps { get; init; } = 3000;

    /// <summary>Peak learning rate of the base's SFT (AdamW, 5% warm-up, cosine decay to 0).</summary>
    public double PretrainLearningRate { get; init; } = 2e-3;

    /// <summary>
    /// Mini-batches each arm trains on after the base (competence and conformity batches together), split over its
    /// stages by their shares; a joint update uses two batches (one of each), so joint arms make half as many updates
    /// unless a stage asks for equal updates.
    /// </summary>
    public int BatchBudget { get; init; } = 800;

    /// <summary>Examples per mini-batch (pairs for conformity).</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Peak learning rate of every stage after the base (each stage: fresh AdamW, warm-up, cosine decay to 0).</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Share of each stage's updates spent warming the learning rate up from 0, in [0, 1).</summary>
    public double WarmupShare { get; init; } = 0.1;

    /// <summary>Competence objective name (<see cref="Objectives.Competence.CompetenceObjectives.Names"/>).</summary>
    public string CompetenceLoss { get; init; } = "nll";

    /// <summary>Conformity objective of stages that name none (<see cref="Objectives.Conformity.ConformityObjectives.Names"/>). Default <c>orpo</c>.</summary>
    public string ConformityLoss { get; init; } = "orpo";

    /// <summary>Strength of the conformity objectives: β of the DPO family, λ of <c>orpo</c>.</summary>
    public double Beta { get; init; } = 0.5;

    /// <summary>Held-out evaluations inside each stage besides its end (the trajectory); 0 for stage ends only.</summary>
    public int CheckpointsPerStage { get; init; } = 2;

    /// <summary>
    /// A held-out value probe: an operand value whose requests are never trained on (neither SFT nor pairs) and are
    /// scored apart from the test prompts — a protected trigger (a multiple of the task's
    /// <see cref="ValueConflictTaskOptions.RefuseMultiplesOf"/>) tests whether the value generalises to an unseen trigger.
    /// Default 21 (the task's protected multiples of 7 are 7, 14, 21, 28); null: none.
    /// </summary>
    public int? HeldOutTrigger { get; init; } = 21;

    /// <summary>
    /// A held-out operand range: requests with an operand at least this value are never trained on and are scored apart
    /// (competence and conformity on unseen operands). Default 27 (operands 27–29 of 0–29; 28 is protected, so the range
    /// has requests to refuse, to caveat and to answer); null: none.
    /// </summary>
    public int? HeldOutOperandsFrom { get; init; } = 27;

    /// <summary>Confidence level of the intervals over seeds.</summary>
    public double ConfidenceLevel { get; init; } = 0.95;

    /// <summary>Device of the language models: <c>auto</c> (CUDA when present), <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>. Default <c>auto</c>.</summary>
    public string Device { get; init; } = "auto";

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        const string owner = nameof(AlignmentTaxOptions);
        ArgumentNullException.ThrowIfNull(Task, nameof(Task));
        Task.Validate();
        ProtocolCheck.NotEmpty(Seeds, nameof(Seeds), owner);
        ProtocolCheck.Distinct(Seeds, nameof(Seeds), owner);
        ProtocolCheck.NotEmpty(Arms, nameof(Arms), owner);
        ProtocolCheck.Distinct(Arms.Select(a => a.Name).ToList(), nameof(Arms), owner);
        foreach (var arm in Arms)
        {
            string where = $"{owner}.{nameof(Arms)} '{arm.Name}'";
            if (arm.Stages is null || arm.Stages.Count == 0)
                throw new ArgumentOutOfRangeException(nameof(Arms), $"{where} has no stages.");
            foreach (var stage in arm.Stages)
            {
                if (stage.Schedule is null) throw new ArgumentOutOfRangeException(nameof(Arms), $"{where} has a stage without a schedule.");
                if (!(stage.BudgetShare > 0 && stage.BudgetShare <= 1))
                    throw new ArgumentOutOfRangeException(nameof(Arms), stage.BudgetShare, $"{where}: a stage's budget share must be in (0, 1]; got {stage.BudgetShare}.");
                if (stage.ConformityLoss is { } loss) ProtocolCheck.ConformityLoss(loss, nameof(Arms), owner);
            }
            double total = arm.Stages.Sum(s => s.BudgetShare);
            if (Math.Abs(total - 1) > 1e-9)
                throw new ArgumentOutOfRangeException(nameof(Arms), total, $"{where}: the stages' budget shares must sum to 1; they sum to {total}.");
            arm.PairsOrOracle.Validate(where);
        }
        ArgumentNullException.ThrowIfNull(Comparisons, nameof(Comparisons));
        ProtocolCheck.LanguageModel(ModelDim, Layers, Heads, owner);
        ProtocolCheck.AtLeast(PretrainSteps, 0, nameof(PretrainSteps), owner);
        ProtocolCheck.Positive(PretrainLearningRate, nameof(PretrainLearningRate), owner);
        ProtocolCheck.AtLeast(BatchBudget, 2, nameof(BatchBudget), owner);
        ProtocolCheck.AtLeast(BatchSize, 1, nameof(BatchSize), owner);
        ProtocolCheck.Positive(LearningRate, nameof(LearningRate), owner);
        if (!(WarmupShare >= 0 && WarmupShare < 1))
            throw new ArgumentOutOfRangeException(nameof(WarmupShare), WarmupShare, $"{owner}.{nameof(WarmupShare)} must be in [0, 1); got {WarmupShare}.");
        ProtocolCheck.Positive(Beta, nameof(Beta), owner);
        ProtocolCheck.AtLeast(CheckpointsPerStage, 0, nameof(CheckpointsPerStage), owner);
        if (HeldOutTrigger is { } trigger && (trigger < 1 || trigger > Task.MaxOperand))
            throw new ArgumentOutOfRangeException(nameof(HeldOutTrigger), trigger, $"{owner}.{nameof(HeldOutTrigger)} must be an operand of the task, in [1, {Task.MaxOperand}]; got {trigger}.");
        if (HeldOutOperandsFrom is { } from && (from < 1 || from > Task.MaxOperand))
            throw new ArgumentOutOfRangeException(nameof(HeldOutOperandsFrom), from, $"{owner}.{nameof(HeldOutOperandsFrom)} must be in [1, {Task.MaxOperand}] (operands below it are trained on); got {from}.");
        ProtocolCheck.Fraction(ConfidenceLevel, nameof(ConfidenceLevel), owner);
        ProtocolCheck.Device(Device, nameof(Device), owner);
        ProtocolCheck.CompetenceLoss(CompetenceLoss, nameof(CompetenceLoss), owner);
        ProtocolCheck.ConformityLoss(ConformityLoss, nameof(ConformityLoss), owner);
    }
}
