using System.Text.Json;

namespace Superalign.Students.Adapters;

/// <summary>PEFT's <c>adapter_config.json</c> for a LoRA adapter: writing it, and reading the fields we implement.</summary>
internal static class LoraConfigFile
{
    public sealed record Config(LoraOptions Options, bool FanInFanOut, string? BaseModelNameOrPath);

    public static void Write(string path, LoraOptions options, bool fanInFanOut, string? baseModelNameOrPath)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("peft_type", "LORA");
            json.WriteString("task_type", "CAUSAL_LM");
            json.WriteNumber("r", options.Rank);
            json.WriteNumber("lora_alpha", options.Alpha);
            json.WriteNumber("lora_dropout", options.Dropout);
            json.WriteStartArray("target_modules");
            foreach (var t in options.TargetModules) json.WriteStringValue(t);
            json.WriteEndArray();
            json.WriteBoolean("fan_in_fan_out", fanInFanOut);
            json.WriteString("bias", "none");
            if (baseModelNameOrPath is null) json.WriteNull("base_model_name_or_path");
            else json.WriteString("base_model_name_or_path", baseModelNameOrPath);
            json.WriteBoolean("inference_mode", true);
            json.WriteBoolean("use_rslora", false);
            json.WriteBoolean("use_dora", false);
            json.WriteNull("modules_to_save");
            json.WriteBoolean("init_lora_weights", true);
            json.WriteEndObject();
        }
        File.WriteAllBytes(path, stream.ToArray());
    }

    public static Config Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"No adapter configuration at '{path}'.", path);
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = doc.RootElement;
            string peftType = root.TryGetProperty("peft_type", out var pt) ? pt.GetString() ?? "" : "";
            if (peftType != "LORA") throw Bad(path, $"peft_type is '{peftType}', not \"LORA\"");
            if (root.TryGetProperty("bias", out var bias) && bias.ValueKind != JsonValueKind.Null && bias.GetString() != "none")
                throw Bad(path, $"bias is '{bias.GetString()}'; only \"none\" (no trained biases) is supported");
            foreach (var flag in new[] { "use_rslora", "use_dora" })
            {
                if (root.TryGetProperty(flag, out var f) && f.ValueKind == JsonValueKind.True) throw Bad(path, $"{flag} is true, which is not supported");
            }
            foreach (var field in new[] { "rank_pattern", "alpha_pattern" })
            {
                if (root.TryGetProperty(field, out var f) && f.ValueKind == JsonValueKind.Object && f.EnumerateObject().Any())
                    throw Bad(path, $"{field} is not empty, which is not supported");
            }
            foreach (var field in new[] { "modules_to_save", "layers_to_transform" })
            {
                if (root.TryGetProperty(field, out var f) && f.ValueKind != JsonValueKind.Null) throw Bad(path, $"{field} is set, which is not supported");
            }
            var targets = root.GetProperty("target_modules") switch
            {
                { ValueKind: JsonValueKind.Array } a => a.EnumerateArray().Select(e => e.GetString() ?? "").ToList(),
                var other => throw Bad(path, $"target_modules is {other.ValueKind}; only a list of module names is supported (PEFT reads a string as a regular expression)"),
            };
            var options = new LoraOptions
            {
                Rank = root.GetProperty("r").GetInt32(),
                Alpha = root.GetProperty("lora_alpha").GetDouble(),
                Dropout = root.TryGetProperty("lora_dropout", out var d) ? d.GetDouble() : 0,
                TargetModules = targets,
            };
            try
            {
                options.Validate();
            }
            catch (ArgumentOutOfRangeException e)
            {
                throw Bad(path, e.Message);
            }
            bool fanInFanOut = root.TryGetProperty("fan_in_fan_out", out var fan) && fan.ValueKind == JsonValueKind.True;
            string? baseModel = root.TryGetProperty("base_model_name_or_path", out var b) && b.ValueKind == JsonValueKind.String ? b.GetString() : null;
            return new Config(options, fanInFanOut, baseModel);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"'{path}' is not a valid LoRA adapter configuration: {e.Message}", e);
        }
    }

    private static InvalidDataException Bad(string path, string why) => new($"'{path}' is not a LoRA adapter this library can load: {why}.");
}
