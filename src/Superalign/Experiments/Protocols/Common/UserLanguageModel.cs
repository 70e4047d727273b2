using System.Globalization;
using System.Security.Cryptography;
using Superalign.Data.Tokenizers;
using Superalign.Students.Adapters;
using Superalign.Students.Pretrained;

namespace Superalign.Experiments.Protocols;

/// <summary>
/// The pretrained model and tokenizer options of the protocols that read your LM data (<c>Model</c>, <c>Tokenizer</c>,
/// <c>LoraRank</c>, <c>LoraAlpha</c>, <c>LoraTargetModules</c>, <c>MaxLength</c>): their checks, the student they make
/// and their part of the run fingerprint (the SHA-256 of every file the model and the tokenizer are read from).
/// </summary>
internal sealed record UserLanguageModel(string? Model, string? Tokenizer, int LoraRank, double? LoraAlpha, IReadOnlyList<string>? LoraTargetModules, int? MaxLength)
{
    /// <summary>No pretrained model or tokenizer: the built-in tiny LM over a character tokenizer.</summary>
    public static UserLanguageModel None { get; } = new(null, null, 0, null, null, null);

    /// <summary>The files a model directory is read from (besides its shards, which the index names).</summary>
    private static readonly string[] ModelFiles = ["config.json", "model.safetensors", "model.safetensors.index.json"];

    /// <summary>The files <see cref="PretrainedTokenizer.FromDirectory"/> may read.</summary>
    private static readonly string[] TokenizerFiles =
        ["tokenizer.json", "vocab.json", "merges.txt", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"];

    /// <summary>Whether a model or a tokenizer directory is named.</summary>
    public bool IsSet => Model is not null || Tokenizer is not null;

    /// <summary>
    /// The checks that need no file read beyond the directories' existence (the rest is done when the data are
    /// loaded): ranges, and that these options come with your data files.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A number is out of range (the exception names the option).</exception>
    /// <exception cref="ArgumentException">A directory is missing or empty, or an option is set without what it needs.</exception>
    public void Validate(string? sftData, string owner)
    {
        foreach (var (path, option) in new[] { (Model, "Model"), (Tokenizer, "Tokenizer") })
        {
            if (path is null) continue;
            if (string.IsNullOrWhiteSpace(path)) throw new ArgumentException($"{owner}.{option} is empty; give a Hugging Face checkpoint directory or leave it null.", option);
            if (!Directory.Exists(path)) throw new ArgumentException($"{owner}.{option}: no directory at '{path}' (relative paths are relative to {Environment.CurrentDirectory}).", option);
            if (sftData is null)
                throw new ArgumentException($"{owner}.{option} is set but SftData and PreferenceData are not: a pretrained model or tokenizer trains on your own files (the built-in task has its own character tokenizer).", option);
        }
        if (LoraRank < 0) throw new ArgumentOutOfRangeException(nameof(LoraRank), LoraRank, $"{owner}.{nameof(LoraRank)} must be >= 0 (0: full fine-tuning); got {LoraRank}.");
        if (Model is null && (LoraRank > 0 || LoraAlpha is not null || LoraTargetModules is not null))
            throw new ArgumentException($"{owner}.LoraRank, LoraAlpha and LoraTargetModules adapt a pretrained model: set Model too.", nameof(LoraRank));
        if (LoraRank == 0 && (LoraAlpha is not null || LoraTargetModules is not null))
            throw new ArgumentException($"{owner}.LoraAlpha and LoraTargetModules need LoraRank >= 1 (LoraRank 0 fine-tunes every weight).", nameof(LoraRank));
        if (LoraRank > 0)
        {
            try
            {
                LoraSettings().Validate();
            }
            catch (ArgumentOutOfRangeException e)
            {
                string option = "Lora" + e.ParamName;
                throw new ArgumentOutOfRangeException(option, e.ActualValue, $"{owner}.{option}: {e.Message}");
            }
        }
        if (MaxLength is < 2) throw new ArgumentOutOfRangeException(nameof(MaxLength), MaxLength, $"{owner}.{nameof(MaxLength)} must be at least 2 (a prompt token and a response token), or null.");
        if (MaxLength is not null && !IsSet)
            throw new ArgumentException($"{owner}.{nameof(MaxLength)} truncates for a pretrained tokenizer: set Model or Tokenizer too (the character tokenizer never truncates).", nameof(MaxLength));
    }

    /// <summary>The adapters asked for: <see cref="LoraRank"/>, <see cref="LoraAlpha"/> (default twice the rank), <see cref="LoraTargetModules"/> (default by architecture).</summary>
    private LoraOptions LoraSettings(string? modelType = null) => new()
    {
        Rank = LoraRank,
        Alpha = LoraAlpha ?? 2.0 * LoraRank,
        TargetModules = LoraTargetModules ?? (modelType == "gpt2" ? ["c_attn"] : ["q_proj", "v_proj"]),
    };

    /// <summary>
    /// Makes a request's student: the checkpoint of <see cref="Model"/> on the request's device, with LoRA adapters
    /// (initialised from the request's seed) when <see cref="LoraRank"/> is at least 1.
    /// </summary>
    public ILanguageModelStudent Factory(LanguageModelRequest request)
    {
        var model = PretrainedCausalLm.FromPretrained(Model!, request.Device, request.Name);
        try
        {
            if (LoraRank > 0) Lora.Apply(model, LoraSettings(model.Config.ModelType), request.Seed);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The model's and tokenizer's part of the run fingerprint: each directory with the SHA-256 of every file it is
    /// read from (config, weights or index and shards; tokenizer files), the tokenizer's kind and vocabulary, and the
    /// options that change the student (LoRA, MaxLength).
    /// </summary>
    public string Describe(PretrainedTokenizer tokenizer)
    {
        var parts = new List<string>();
        if (Model is not null)
        {
            var files = ModelFiles.Where(f => File.Exists(Path.Combine(Model, f))).ToList();
            if (files.Contains("model.safetensors.index.json"))
                files.AddRange(Directory.GetFiles(Model, "*.safetensors").Select(Path.GetFileName).OfType<string>().Where(f => f != "model.safetensors").Order(StringComparer.Ordinal));
            parts.Add($"Model={Model} [{Hashes(Model, files)}]");
            if (LoraRank > 0)
            {
                var lora = LoraSettings(PretrainedCausalLmConfig.Parse(File.ReadAllText(Path.Combine(Model, "config.json"))).ModelType);
                parts.Add(string.Create(CultureInfo.InvariantCulture, $"Lora=r{lora.Rank} alpha{lora.Alpha} [{string.Join(",", lora.TargetModules)}]"));
            }
        }
        string directory = Tokenizer ?? Model!;
        parts.Add($"Tokenizer={directory} {tokenizer.Kind} vocabulary {tokenizer.VocabularySize.ToString(CultureInfo.InvariantCulture)} " +
                  $"[{Hashes(directory, TokenizerFiles.Where(f => File.Exists(Path.Combine(directory, f))))}]");
        if (MaxLength is { } most) parts.Add($"MaxLength={most.ToString(CultureInfo.InvariantCulture)}");
        return string.Join("; ", parts);
    }

    private static string Hashes(string directory, IEnumerable<string> files) => string.Join(", ", files.Select(f =>
    {
        using var stream = File.OpenRead(Path.Combine(directory, f));
        return $"{f} sha256:{Convert.ToHexStringLower(SHA256.HashData(stream))}";
    }));
}
