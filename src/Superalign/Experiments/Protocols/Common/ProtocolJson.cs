using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Superalign.Experiments.Protocols;

/// <summary>JSON output of protocol results (indented, camelCase, NaN and infinities written as strings).</summary>
public static class ProtocolJson
{
    /// <summary>The serializer settings used for every result.</summary>
    public static JsonSerializerOptions Options { get; } = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase), new ScheduleJsonConverter() },
        // Batch sources (e.g. a direction search's probes) are data streams, not settings: the protocol supplies them.
        TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { SkipBatchSources } },
    };

    private static void SkipBatchSources(JsonTypeInfo info)
    {
        foreach (var property in info.Properties)
            if (property.PropertyType.IsGenericType && property.PropertyType.GetGenericTypeDefinition() == typeof(Data.IBatchSource<>))
                property.ShouldSerialize = (_, _) => false;
    }

    /// <summary>
    /// The value as JSON text, written as its run-time type: options or a result held as an interface
    /// (<see cref="IProtocolOptions"/>, <see cref="IProtocolResult"/>) keep every property, not only the interface's.
    /// </summary>
    public static string Serialize<T>(T result) => JsonSerializer.Serialize(result, result?.GetType() ?? typeof(T), Options);

    /// <summary>Reads a result written by <see cref="Write{T}"/>.</summary>
    public static T Deserialize<T>(string json) =>
        JsonSerializer.Deserialize<T>(json, Options) ?? throw new JsonException($"The JSON text holds null, not a {typeof(T).Name}.");

    /// <summary>Reads a value of <paramref name="type"/> written by <see cref="Serialize{T}"/>.</summary>
    public static object Deserialize(string json, Type type)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(type);
        return JsonSerializer.Deserialize(json, type, Options) ?? throw new JsonException($"The JSON text holds null, not a {type.Name}.");
    }

    /// <summary>
    /// Writes the result to <paramref name="path"/> (creating its folder) through a temporary file that replaces the
    /// target only when complete, so an interrupted run never leaves a truncated file. With <paramref name="provenance"/>
    /// it is one more property, <c>provenance</c> (<see cref="ResultProvenance.PropertyName"/>), after the result's own:
    /// readers of the result record ignore it, <see cref="ResultProvenance.Read"/> reads it.
    /// </summary>
    /// <param name="result">The result (written as its run-time type).</param>
    /// <param name="path">The file.</param>
    /// <param name="provenance">Where the result and its units were computed, or null to write the result alone.</param>
    /// <exception cref="ArgumentException">The result does not serialise to a JSON object, or already has a <c>provenance</c> property.</exception>
    public static void Write<T>(T result, string path, ResultProvenance? provenance = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string text = Serialize(result);
        if (provenance is not null)
        {
            var node = JsonNode.Parse(text) as JsonObject ?? throw new ArgumentException($"A {result?.GetType().Name} does not serialise to a JSON object; it cannot carry a provenance.", nameof(result));
            if (node.ContainsKey(ResultProvenance.PropertyName))
                throw new ArgumentException($"A {result?.GetType().Name} already has a '{ResultProvenance.PropertyName}' property.", nameof(result));
            node[ResultProvenance.PropertyName] = JsonSerializer.SerializeToNode(provenance, Options);
            text = node.ToJsonString(Options);
        }
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temporary = full + ".tmp";
        File.WriteAllText(temporary, text);
        File.Move(temporary, full, overwrite: true);
    }
}
