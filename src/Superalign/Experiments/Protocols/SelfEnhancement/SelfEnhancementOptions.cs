using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging.Abstractions;
using Superalign.Experiments.Tasks;
using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

/// <summary>Who judges the policy's response pairs in <see cref="SelfEnhancement"/>.</summary>
public enum FeedbackJudge
{
    /// <summary>The policy itself, frozen at the start of each round (self-rewarding).</summary>
    Self,

    /// <summary>A peer of equal capability: same architecture and training, another seed.</summary>
    Peer,

    /// <summary>The task's exact checkers (an upper bound on what AI feedback can give); the built-in task only.</summary>
    Oracle,

    /// <summary>
    /// A verifier separate from the policy: a small classifier trained on a labelled set of the SFT policy's responses
    /// (<see cref="SelfEnhancementOptions.Verifier"/>) that predicts the checkers' rank of a response; the built-in task only.
    /// </summary>
    Verifier,
}

/// <summary>Options of <see cref="SelfEnhancement"/>; validated when the protocol is created.</summary>
public sealed record SelfEnhancementOptions : IProtocolOptions
{
    /// <summary>The value-conflict task (its split seed is replaced by each run's seed); not used with <see cref="SftData"/>.</summary>
    public ValueConflictTaskOptions Task { get; init; } = new();

    /// <summary>
    /// Your demonstrations: a JSONL file in TRL's prompt-completion format (<c>prompt</c>, <c>completion</c>). Its
    /// training rows are the SFT data of the policy (and peer); its held-out rows measure competence. Set together
    /// with <see cref="PreferenceData"/>; null (default) runs the built-in task. Read and checked when the protocol is
    /// created; its SHA-256 is part of the run fingerprint.
    /// </summary>
    public string? SftData { get; init; }

    /// <summary>
    /// Your preference data: a JSONL file in TRL's preference format (<c>prompt</c>, <c>chosen</c>, <c>rejected</c>).
    /// The prompts of its training rows are the prompts the policy samples for feedback (their completions are not
    /// trained on: the feedback is the judge's); its held-out pairs measure conformity (preference accuracy) and the
    /// judge's agreement with your labels. Set together with <see cref="SftData"/>.
    /// </summary>
    public string? PreferenceData { get; init; }

    /// <summary>With <see cref="SftData"/>: the share of each file held out per seed, in (0, 1). Default 0.2.</summary>
    public double HeldOutFraction { get; init; } = 0.2;

    /// <summary>With <see cref="SftData"/>: how competence is measured on the held-out SFT rows. Default <see cref="CompletionMetric.ExactMatch"/>.</summary>
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

    /// <summary>Seeds (at least one, distinct).</summary>
    public IReadOnlyList<int> Seeds { get; init; } = [0, 1, 2];

    /// <summary>The judges to compare (at least one, distinct).</summary>
    public IReadOnlyList<FeedbackJudge> Judges { get; init; } = [FeedbackJudge.Self, FeedbackJudge.Peer, FeedbackJudge.Verifier, FeedbackJudge.Oracle];

    /// <summary>
    /// The verifier judge's labelled set, size and training (used when <see cref="Judges"/> holds
    /// <see cref="FeedbackJudge.Verifier"/>); null (default) takes <see cref="VerifierOptions"/>' defaults.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] // left out when unset: run directories made before it existed keep their fingerprint
    public VerifierOptions? Verifier { get; init; }

    /// <summary>The verifier options in force: <see cref="Verifier"/> or the defaults.</summary>
    internal VerifierOptions VerifierOrDefault => Verifier ?? new();

    /// <summary>Width of the tiny LM.</summary>
    public int ModelDim { get; init; } = 64;

    /// <summary>Transformer blocks of the tiny LM.</summary>
    public int Layers { get; init; } = 2;

    /// <summary>Attention heads of the tiny LM.</summary>
    public int Heads { get; init; } = 4;

    /// <summary>
    /// Fraction of the training prompts with a demonstration of the value rule (LAIF's SFT share: 10%). The SFT data
    /// are these demonstrations plus the task answers of the prompts the rule lets be answered plainly.
    /// </summary>
    public double DemonstrationFraction { get; init; } = 0.1;

    /// <summary>SFT updates before the first round (policy and peer alike).</summary>
    public int SftSteps { get; init; } = 1500;

    /// <summary>Rounds of sample → judge → train.</summary>
    public int Rounds { get; init; } = 3;

    /// <summary>Prompts sampled per round (from the training prompts without a demonstration).</summary>
    public int PromptsPerRound { get; init; } = 512;

    /// <summary>
    /// Temperature of the policy's samples. Above 1 by default: at 1 the SFT policy rarely samples the behaviours it
    /// has not learned yet (refusals, caveats), so even perfect feedback has little to prefer.
    /// </summary>
    public double SamplingTemperature { get; init; } = 1.5;

    /// <summary>Preference updates per round.</summary>
    public int StepsPerRound { get; init; } = 32;

    /// <summary>Examples per mini-batch.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Peak learning rate of the SFT stage.</summary>
    public double LearningRate { get; init; } = 2e-3;

    /// <summary>Peak learning rate of each round's preference training.</summary>
    public double PreferenceLearningRate { get; init; } = 5e-4;

    /// <summary>Competence (SFT) objective name.</summary>
    public string CompetenceLoss { get; init; } = "nll";

    /// <summary>Preference objective name; <c>orpo</c> by default (see <see cref="CoOptimizationOptions.ConformityLoss"/>).</summary>
    public string ConformityLoss { get; init; } = "orpo";

    /// <summary>Strength of the preference objective (β, or λ of <c>orpo</c>).</summary>
    public double Beta { get; init; } = 0.5;

    /// <summary>Samples per held-out prompt for the diversity measure (at least 2).</summary>
    public int DiversitySamples { get; init; } = 4;

    /// <summary>Held-out prompts used for the diversity measure.</summary>
    public int DiversityPrompts { get; init; } = 200;

    /// <summary>Confidence level of the intervals over seeds.</summary>
    public double ConfidenceLevel { get; init; } = 0.95;

    /// <summary>Device of the language models: <c>auto</c> (CUDA when present), <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>. Default <c>auto</c>.</summary>
    public string Device { get; init; } = "auto";

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        const string owner = nameof(SelfEnhancementOptions);
        ArgumentNullException.ThrowIfNull(Task, nameof(Task));
        Task.Validate();
        ProtocolCheck.NotEmpty(Seeds, nameof(Seeds), owner);
        ProtocolCheck.Distinct(Seeds, nameof(Seeds), owner);
        ProtocolCheck.NotEmpty(Judges, nameof(Judges), owner);
        ProtocolCheck.Distinct(Judges, nameof(Judges), owner);
        foreach (var judge in Judges)
            if (!Enum.IsDefined(judge)) throw new ArgumentOutOfRangeException(nameof(Judges), judge, $"{owner}.{nameof(Judges)} holds an unknown judge {judge}.");
        ProtocolCheck.LanguageModel(ModelDim, Layers, Heads, owner);
        ProtocolCheck.Fraction(DemonstrationFraction, nameof(DemonstrationFraction), owner);
        ProtocolCheck.AtLeast(SftSteps, 1, nameof(SftSteps), owner);
        ProtocolCheck.AtLeast(Rounds, 1, nameof(Rounds), owner);
        ProtocolCheck.AtLeast(PromptsPerRound, 2, nameof(PromptsPerRound), owner);
        ProtocolCheck.Positive(SamplingTemperature, nameof(SamplingTemperature), owner);
        ProtocolCheck.AtLeast(StepsPerRound, 1, nameof(StepsPerRound), owner);
        ProtocolCheck.AtLeast(BatchSize, 1, nameof(BatchSize), owner);
        ProtocolCheck.Positive(LearningRate, nameof(LearningRate), owner);
        ProtocolCheck.Positive(PreferenceLearningRate, nameof(PreferenceLearningRate), owner);
        ProtocolCheck.Positive(Beta, nameof(Beta), owner);
        ProtocolCheck.AtLeast(DiversitySamples, 2, nameof(DiversitySamples), owner);
        ProtocolCheck.AtLeast(DiversityPrompts, 1, nameof(DiversityPrompts), owner);
        ProtocolCheck.Fraction(ConfidenceLevel, nameof(ConfidenceLevel), owner);
        ProtocolCheck.Device(Device, nameof(Device), owner);
        ProtocolCheck.CompetenceLoss(CompetenceLoss, nameof(CompetenceLoss), owner);
        ProtocolCheck.ConformityLoss(ConformityLoss, nameof(ConformityLoss), owner);
        VerifierOrDefault.Validate(owner);
        ProtocolCheck.UserLmData(SftData, PreferenceData, HeldOutFraction, CompetenceMetric, owner);
        UserModel.Validate(SftData, owner);
        foreach (var checkerJudge in new[] { FeedbackJudge.Oracle, FeedbackJudge.Verifier })
            if (SftData is not null && Judges.Contains(checkerJudge))
                throw new ArgumentException($"{owner}.{nameof(Judges)} holds {checkerJudge.ToString().ToLowerInvariant()}, which needs the built-in task's exact checkers; on your own data use self and/or peer (e.g. --set 'Judges=[\"self\",\"peer\"]').", nameof(Judges));
    }
}
