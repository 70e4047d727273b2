using System.Text.Json;
using System.Text.Json.Serialization;
using Superalign.Optimization;

namespace Superalign.Experiments.Protocols;

/// <summary>
/// Writes and reads the built-in <see cref="IAlternationSchedule"/>s as data, so that protocol options naming
/// schedules round-trip through JSON: <c>{"kind": "fixed-ratio", "competenceSteps": 1, "conformitySteps": 2}</c>,
/// <c>{"kind": "joint", "competenceStart", "conformityStart", "competenceEnd", "conformityEnd", "interpolation"}</c>,
/// <c>{"kind": "annealed-ratio", "conformityShareStart", "conformityShareEnd", "interpolation"}</c>,
/// <c>{"kind": "sequential", "competenceFraction"}</c>. A schedule of your own is written as
/// <c>{"kind": "custom", "type", "description"}</c> so that results that used it can be saved, and cannot be read back.
/// </summary>
internal sealed class ScheduleJsonConverter : JsonConverter<IAlternationSchedule>
{
    public override void Write(Utf8JsonWriter writer, IAlternationSchedule value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        switch (value)
        {
            case FixedRatioSchedule f:
                writer.WriteString("kind", "fixed-ratio");
                writer.WriteNumber("competenceSteps", f.Steps.Competence);
                writer.WriteNumber("conformitySteps", f.Steps.Conformity);
                break;
            case JointSchedule j:
                var w = j.Weights;
                writer.WriteString("kind", "joint");
                writer.WriteNumber("competenceStart", w.CompetenceStart);
                writer.WriteNumber("conformityStart", w.ConformityStart);
                writer.WriteNumber("competenceEnd", w.CompetenceEnd);
                writer.WriteNumber("conformityEnd", w.ConformityEnd);
                writer.WriteString("interpolation", Name(w.Interpolation));
                break;
            case AnnealedRatioSchedule a:
                writer.WriteString("kind", "annealed-ratio");
                writer.WriteNumber("conformityShareStart", a.Shares.Start);
                writer.WriteNumber("conformityShareEnd", a.Shares.End);
                writer.WriteString("interpolation", Name(a.Shares.Interpolation));
                break;
            case SequentialSchedule s:
                writer.WriteString("kind", "sequential");
                writer.WriteNumber("competenceFraction", s.CompetenceFraction);
                break;
            default:
                // A result that used a schedule of your own is still written; only the built-in schedules read back.
                writer.WriteString("kind", "custom");
                writer.WriteString("type", value.GetType().FullName);
                writer.WriteString("description", value.ToString());
                break;
        }
        writer.WriteEndObject();
    }

    public override IAlternationSchedule Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new JsonException("A schedule must be a JSON object with a \"kind\".");
        string kind = Text(root, "kind");
        try
        {
            return kind switch
            {
                "fixed-ratio" => AlternationSchedules.FixedRatio(Int(root, "competenceSteps"), Int(root, "conformitySteps")),
                "joint" => AlternationSchedules.AnnealedWeights(Number(root, "competenceStart"), Number(root, "conformityStart"),
                    Number(root, "competenceEnd"), Number(root, "conformityEnd"), Interpolation(root)),
                "annealed-ratio" => AlternationSchedules.AnnealedRatio(Number(root, "conformityShareStart"), Number(root, "conformityShareEnd"), Interpolation(root)),
                "sequential" => AlternationSchedules.Sequential(Number(root, "competenceFraction")),
                "custom" => throw new JsonException(
                    $"The schedule {(root.TryGetProperty("type", out var t) ? t.GetString() : "of this configuration")} is not a built-in one and cannot be read from JSON; give it in code."),
                _ => throw new JsonException($"Unknown schedule kind '{kind}'; known: fixed-ratio, joint, annealed-ratio, sequential."),
            };
        }
        catch (ArgumentException e)
        {
            throw new JsonException($"Schedule '{kind}': {e.Message}", e);
        }
    }

    private static string Name(Interpolation interpolation) => interpolation == Optimization.Interpolation.Linear ? "linear" : "cosine";

    private static Interpolation Interpolation(JsonElement root) => Text(root, "interpolation") switch
    {
        "linear" => Optimization.Interpolation.Linear,
        "cosine" => Optimization.Interpolation.Cosine,
        var other => throw new JsonException($"Schedule interpolation must be \"linear\" or \"cosine\"; got '{other}'."),
    };

    private static JsonElement Property(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) ? value : throw new JsonException($"The schedule needs \"{name}\".");

    private static string Text(JsonElement root, string name) =>
        Property(root, name) is { ValueKind: JsonValueKind.String } v ? v.GetString()! : throw new JsonException($"Schedule \"{name}\" must be a string.");

    private static double Number(JsonElement root, string name) =>
        Property(root, name) is { ValueKind: JsonValueKind.Number } v ? v.GetDouble() : throw new JsonException($"Schedule \"{name}\" must be a number.");

    private static int Int(JsonElement root, string name) =>
        Property(root, name) is { ValueKind: JsonValueKind.Number } v && v.TryGetInt32(out int i) ? i : throw new JsonException($"Schedule \"{name}\" must be an integer.");
}
