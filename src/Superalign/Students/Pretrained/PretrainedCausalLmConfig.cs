using System.Text.Json;
using System.Text.Json.Nodes;

namespace Superalign.Students.Pretrained;

/// <summary>
/// The architecture of a pretrained causal language model, as a Hugging Face <c>config.json</c> describes it:
/// <see cref="Gpt2Config"/> (<c>model_type</c> gpt2) or <see cref="LlamaConfig"/> (llama, qwen2, mistral).
/// </summary>
public abstract record PretrainedCausalLmConfig
{
    /// <summary>The <c>model_type</c> values that can be read.</summary>
    public static IReadOnlyList<string> SupportedModelTypes { get; } = new[] { "gpt2", "llama", "qwen2", "mistral" };

    /// <summary>The Hugging Face <c>model_type</c>.</summary>
    public abstract string ModelType { get; }

    /// <summary>Vocabulary size.</summary>
    public abstract int VocabularySize { get; }

    /// <summary>Longest sequence the model reads.</summary>
    public abstract int MaxSequenceLength { get; }

    /// <summary>Number of transformer blocks.</summary>
    public abstract int Layers { get; }

    /// <summary>Whether the output head reuses the token embedding.</summary>
    public abstract bool TiedHead { get; }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first option out of its range.</summary>
    public abstract void Validate();

    /// <summary>The configuration as a <c>config.json</c> object (Hugging Face key names, <c>torch_dtype</c> float32).</summary>
    public abstract JsonObject ToJson();

    /// <summary>
    /// Reads a <c>config.json</c> text: <c>model_type</c> selects the family; keys the family needs must be present,
    /// optional ones take Hugging Face's defaults. The result is validated.
    /// </summary>
    /// <exception cref="ArgumentException">The JSON is malformed, names an unsupported <c>model_type</c> or an option
    /// that is not implemented (such as <c>rope_scaling</c>), or lacks a required key (the message names it).</exception>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range (the exception names it).</exception>
    public static PretrainedCausalLmConfig Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json) as JsonObject ?? throw new ArgumentException("config.json must hold a JSON object.");
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"config.json is not valid JSON ({e.Message}).", e);
        }
        var reader = new ConfigReader(root);
        string modelType = reader.String("model_type", null)
            ?? throw new ArgumentException($"config.json has no model_type (supported: {string.Join(", ", SupportedModelTypes)}).");
        PretrainedCausalLmConfig config = modelType switch
        {
            "gpt2" => Gpt2Config.FromJson(reader),
            "llama" or "qwen2" or "mistral" => LlamaConfig.FromJson(modelType, reader),
            _ => throw new ArgumentException($"model_type '{modelType}' is not supported (supported: {string.Join(", ", SupportedModelTypes)})."),
        };
        config.Validate();
        return config;
    }
}

/// <summary>Typed reads of a config.json object with messages naming the key.</summary>
internal sealed class ConfigReader(JsonObject root)
{
    public JsonObject Root { get; } = root;

    private JsonNode? Get(string key) => Root.TryGetPropertyValue(key, out var node) ? node : null;

    public int Int(string key, int? fallback)
    {
        var node = Get(key);
        if (node is null)
            return fallback ?? throw new ArgumentException($"config.json lacks '{key}'.");
        try { return node.GetValue<int>(); }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        { throw new ArgumentException($"config.json's '{key}' must be an integer; got {node.ToJsonString()}."); }
    }

    public int? OptionalInt(string key) => Get(key) is null ? null : Int(key, null);

    public double Double(string key, double fallback)
    {
        var node = Get(key);
        if (node is null) return fallback;
        try { return node.GetValue<double>(); }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        { throw new ArgumentException($"config.json's '{key}' must be a number; got {node.ToJsonString()}."); }
    }

    public bool Bool(string key, bool fallback)
    {
        var node = Get(key);
        if (node is null) return fallback;
        try { return node.GetValue<bool>(); }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        { throw new ArgumentException($"config.json's '{key}' must be true or false; got {node.ToJsonString()}."); }
    }

    public string? String(string key, string? fallback)
    {
        var node = Get(key);
        if (node is null) return fallback;
        try { return node.GetValue<string>(); }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        { throw new ArgumentException($"config.json's '{key}' must be a string; got {node.ToJsonString()}."); }
    }

    public bool IsSet(string key) => Get(key) is not null;

    public string Raw(string key) => Get(key)?.ToJsonString() ?? "null";
}
