using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging.Abstractions;
using Superalign.Objectives.Competence;
using Superalign.Objectives.Conformity;
using Superalign.Experiments.Tasks;
using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

/// <summary>Options of <see cref="CoOptimizationComparison"/>; validated when the protocol is created.</summary>
public sealed record CoOptimizationOptions : IProtocolOptions
{
    /// <summary>The value-conflict task (its split seed is replaced by each run's seed); not used with <see cref="SftData"/>.</summary>
    public ValueConflictTaskOptions Task { get; init; } = new();

    /// <summary>
    /// Your SFT data: a JSONL file in TRL's prompt-completion format (<c>prompt</c>, <c>completion</c>), the competence
    /// data in place of the task's. Set together with <see cref="PreferenceData"/>; null (default) runs the built-in task.
    /// Every row is read and checked when the protocol is created; the file's SHA-256 is part of the run fingerprint.
    /// </summary>
    public string? SftData { get; init; }

    /// <summary>
    /// Your preference data: a JSONL file in TRL's preference format (<c>prompt</c>, <c>chosen</c>, <c>rejected</c>),
    /// the conformity data in place of the task's rule pairs. Set together with <see cref="SftData"/>.
    /// </summary>
    public string? PreferenceData { get; init; }

    /// <summary>
    /// With <see cref="SftData"/>: the share of each file held out per seed for evaluation (a seeded split), in (0, 1).
    /// Default 0.2. Not used on the built-in task (its split is <see cref="ValueConflictTaskOptions.TestFraction"/>).
    /// </summary>
    public double HeldOutFraction { get; init; } = 0.2;

    /// <summary>
    /// With <see cref="SftData"/>: how competence is measured on the held-out SFT rows. Default
    /// <see cref="CompletionMetric.ExactMatch"/>. Conformity on your data is always the preference accuracy on the
    /// held-out pairs (docs/protocols.md, "Your own data").
    /// </summary>
    public CompletionMetric CompetenceMetric { get; init; } = CompletionMetric.ExactMatch;

    /// <summary>
    /// A Hugging Face checkpoint directory (<c>config.json</c>, <c>model.safetensors</c> or shards, and usually the
    /// tokenizer files): the student of every seed is this pretrained model (<see cref="Students.Pretrained.PretrainedCausalLm.FromPretrained"/>)
    /// in place of the tiny LM, and its tokenizer encodes your data. Needs <see cref="SftData"/>. The files' SHA-256 are
    /// part of the run fingerprint, so a changed model never merges with old units. Null (default): the tiny LM.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] // left out when unset: run directories made before it existed keep their fingerprint
    public string? Model { get; init; }

    /// <summary>
    /// A directory with the tokenizer files (<c>tokenizer.json</c>, <c>vocab.json</c> + <c>merges.txt</c> or
    /// <c>tokenizer.model</c>, with <c>tokenizer_config.json</c>): your data are encoded with it
    /// (<see cref="Data.Tokenizers.PretrainedTokenizer.FromDirectory"/>). Default: the <see cref="Model"/> directory; without
    /// <see cref="Model"/>, the tiny LM is built over this tokenizer's vocabulary. It may have fewer ids than the model,
    /// never more. Its files' SHA-256 are part of the run fingerprint.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] // left out when unset: run directories made before it existed keep their fingerprint
    public string? Tokenizer { get; init; }

    /// <summary>With <see cref="Model"/>: the rank of LoRA adapters (PEFT's <c>r</c>), so that only they train; 0 (default) fine-tunes every weight.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] // left out when 0, as above
    public int LoraRank { get; init; }

    /// <summary>With <see cref="LoraRank"/>: PEFT's <c>lora_alpha</c>; null (default) is twice the rank.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] // left out when unset: run directories made before it existed keep their fingerprint
    public double? LoraAlpha { get; init; }

    /// <summary>With <see cref="LoraRank"/>: PEFT's <c>target_modules</c>; null (default) is <c>c_attn</c> for GPT-2, <c>q_proj</c> and <c>v_proj</c> otherwise.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] // left out when unset: run directories made before it existed keep their fingerprint
    public IReadOnlyList<string>? LoraTargetModules { get; init; }

    /// <summary>
    /// With <see cref="Model"/> or <see cref="Tokenizer"/>: the most tokens of a sequence (TRL's <c>max_length</c>;
    /// prompts are cut from the left first). Null (default) truncates nothing: every row must then fit the model's context.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] // left out when unset: run directories made before it existed keep their fingerprint
    public int? MaxLength { get; init; }

    /// <summary>The pretrained model and tokenizer options together.</summary>
    internal UserLanguageModel UserModel => new(Model, Tokenizer, LoraRank, LoraAlpha, LoraTargetModules, MaxLength);

    /// <summary>Seeds: each gives its own split, initial weights, base model and batch order. At least one; distinct.</summary>
    public IReadOnlyList<int> Seeds { get; init; } = [0, 1, 2];

    /// <summary>The schedules to compare (at least one; distinct names).</summary>
    public IReadOnlyList<ScheduleCandidate> Schedules { get; init; } = ScheduleCandidate.Defaults();

    /// <summary>The schedules' names and descriptions, as written to JSON.</summary>
    [JsonIgnore]
    public IReadOnlyList<string> ScheduleNames => Schedules.Select(s => $"{s.Name}: {s.Description}").ToList();

    /// <summary>Width of the tiny LM's residual stream (the built-in model; a <see cref="LanguageModelFactory"/> replaces it).</summary>
    public int ModelDim { get; init; } = 64;

    /// <summary>Transformer blocks of the tiny LM.</summary>
    public int Layers { get; init; } = 2;

    /// <summary>Attention heads of the tiny LM.</summary>
    public int Heads { get; init; } = 4;

    /// <summary>
    /// Competence (SFT) updates that make the shared base model every schedule starts from; the base is also the DPO
    /// reference policy of every schedule. 0 starts from the random initialisation.
    /// </summary>
    public int PretrainSteps { get; init; } = 600;

    /// <summary>
    /// Mini-batches each schedule trains on after the base (competence and conformity batches together): a schedule
    /// that computes both losses in one update (joint) gets half as many updates, so every schedule costs the same
    /// number of gradient evaluations.
    /// </summary>
    public int BatchBudget { get; init; } = 1600;

    /// <summary>Examples per mini-batch (pairs for conformity).</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Peak learning rate (AdamW, warm-up then cosine decay).</summary>
    public double LearningRate { get; init; } = 2e-3;

    /// <summary>Competence objective name (<see cref="CompetenceObjectives.Names"/>).</summary>
    public string CompetenceLoss { get; init; } = "nll";

    /// <summary>
    /// Conformity objective name (<see cref="ConformityObjectives.Names"/>). Default <c>orpo</c>: on this task plain
    /// DPO (<c>sigmoid</c>) separates the pairs' log-probs (reward accuracy near 1) by pushing the rejected responses
    /// down without making the chosen ones the greedy output, so held-out conformity does not move; ORPO's likelihood
    /// term on the chosen response fixes that (docs/results.md shows both).
    /// </summary>
    public string ConformityLoss { get; init; } = "orpo";

    /// <summary>Strength of the conformity objective: β of the DPO family, λ of <c>orpo</c>.</summary>
    public double Beta { get; init; } = 0.5;

    /// <summary>
    /// Training prompts set aside per seed (chosen with the seed) as the probes of the direction searches: neither the
    /// base nor any schedule trains on them, so every schedule of the comparison sees the same training data. Required
    /// (&gt;= 1) when a schedule searches; 0 (the default) keeps every training prompt for training.
    /// </summary>
    public int ProbePrompts { get; init; }

    /// <summary>Held-out evaluations along each run (the trajectory), besides the final one; 0 for the final only.</summary>
    public int Checkpoints { get; init; } = 8;

    /// <summary>Confidence level of the intervals over seeds.</summary>
    public double ConfidenceLevel { get; init; } = 0.95;

    /// <summary>Device of the language models: <c>auto</c> (CUDA when present), <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>. Default <c>auto</c>.</summary>
    public string Device { get; init; } = "auto";

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        const string owner = nameof(CoOptimizationOptions);
        ArgumentNullException.ThrowIfNull(Task, nameof(Task));
        Task.Validate();
        ProtocolCheck.NotEmpty(Seeds, nameof(Seeds), owner);
        ProtocolCheck.Distinct(Seeds, nameof(Seeds), owner);
        ProtocolCheck.NotEmpty(Schedules, nameof(Schedules), owner);
        ProtocolCheck.Distinct(Schedules.Select(s => s.Name).ToList(), nameof(Schedules), owner);
        ProtocolCheck.LanguageModel(ModelDim, Layers, Heads, owner);
        ProtocolCheck.AtLeast(PretrainSteps, 0, nameof(PretrainSteps), owner);
        ProtocolCheck.AtLeast(BatchBudget, 2, nameof(BatchBudget), owner);
        ProtocolCheck.AtLeast(BatchSize, 1, nameof(BatchSize), owner);
        ProtocolCheck.Positive(LearningRate, nameof(LearningRate), owner);
        ProtocolCheck.Positive(Beta, nameof(Beta), owner);
        ProtocolCheck.AtLeast(Checkpoints, 0, nameof(Checkpoints), owner);
        ProtocolCheck.AtLeast(ProbePrompts, 0, nameof(ProbePrompts), owner);
        ProtocolCheck.UserLmData(SftData, PreferenceData, HeldOutFraction, CompetenceMetric, owner);
        UserModel.Validate(SftData, owner);
        if (Schedules.FirstOrDefault(s => s.Search is not null) is { } searching)
        {
            if (ProbePrompts < 1)
                throw new ArgumentOutOfRangeException(nameof(ProbePrompts), ProbePrompts,
                    $"{owner}.{nameof(ProbePrompts)} must be >= 1: the schedule '{searching.Name}' searches over learning directions and scores its candidates on held-out probe prompts (e.g. 128).");
            foreach (var schedule in Schedules.Where(s => s.Search is not null))
                schedule.Search!.ValidateExceptProbes(); // the probes come from the protocol
        }
        ProtocolCheck.Fraction(ConfidenceLevel, nameof(ConfidenceLevel), owner);
        ProtocolCheck.Device(Device, nameof(Device), owner);
        ProtocolCheck.CompetenceLoss(CompetenceLoss, nameof(CompetenceLoss), owner);
        ProtocolCheck.ConformityLoss(ConformityLoss, nameof(ConformityLoss), owner);
    }
}
