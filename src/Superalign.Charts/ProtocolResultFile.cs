using System.Text.Json;
using System.Text.Json.Nodes;
using Superalign.Experiments.Protocols;

namespace Superalign.Charts;

/// <summary>A protocol result read back from a <c>result.json</c>, with the catalog entry of its protocol.</summary>
/// <param name="Entry">The protocol.</param>
/// <param name="Result">The result, of <see cref="ProtocolEntry.ResultType"/>.</param>
public sealed record ProtocolResultFile(ProtocolEntry Entry, IProtocolResult Result)
{
    /// <summary>The file a run writes in its directory.</summary>
    public const string ResultFileName = "result.json";

    /// <summary>
    /// Reads the results in <paramref name="path"/>: a <c>result.json</c> as <see cref="ProtocolJson"/> writes it, or a
    /// run directory holding one. The protocol is the one the directory's <c>run.json</c> names, else the one whose
    /// result has exactly the file's properties. A file whose properties are themselves results (as the GapAnnealing
    /// sample wrote both of its parts into one file before it ran them as two protocols) gives each of them.
    /// </summary>
    /// <exception cref="FileNotFoundException">There is no such file, or the directory holds no result.json.</exception>
    /// <exception cref="InvalidDataException">The file is not JSON, or not the result of any protocol; the message says which.</exception>
    public static IReadOnlyList<ProtocolResultFile> Read(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string file = Directory.Exists(path) ? Path.Combine(path, ResultFileName) : path;
        if (!File.Exists(file))
            throw new FileNotFoundException(Directory.Exists(path) ? $"{path} holds no {ResultFileName}." : $"{path} does not exist.", file);
        JsonObject json;
        try
        {
            json = JsonNode.Parse(File.ReadAllText(file)) as JsonObject ?? throw new JsonException("the top level is not an object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{file} is not valid JSON: {FirstLine(e.Message)}");
        }

        var named = Named(Path.GetDirectoryName(Path.GetFullPath(file))!);
        if (named is not null) return [new(named, Deserialize(json, named, file))];
        if (Identify(json) is { } entry) return [new(entry, Deserialize(json, entry, file))];
        var parts = json.Where(p => p.Value is not null && p.Key != ResultProvenance.PropertyName).ToList();
        if (parts.Count > 0 && parts.All(p => p.Value is JsonObject o && Identify(o) is not null))
            return parts.Select(p => { var e = Identify((JsonObject)p.Value!)!; return new ProtocolResultFile(e, Deserialize((JsonObject)p.Value!, e, file)); }).ToList();
        throw new InvalidDataException($"{file} is not a protocol result: its properties ({string.Join(", ", json.Select(p => p.Key).Take(6))}…) match none of {string.Join(", ", ProtocolCatalog.All.Select(e => e.Name))}.");
    }

    /// <summary>The protocol the run directory's manifest names, or null without a readable manifest.</summary>
    private static ProtocolEntry? Named(string directory)
    {
        string manifest = Path.Combine(directory, ProtocolUnitStore.ManifestFileName);
        if (!File.Exists(manifest)) return null;
        try
        {
            string? name = JsonNode.Parse(File.ReadAllText(manifest))?["protocol"]?.GetValue<string>();
            return name is null ? null : ProtocolCatalog.All.FirstOrDefault(e => e.Name == name);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    /// <summary>
    /// The protocol whose result type has exactly the properties of <paramref name="json"/> (besides its
    /// <see cref="ResultProvenance"/>), or else — a file written before the result gained optional members (e.g.
    /// weak-to-strong's paired statistics) — the one whose properties include every key of the file and lack only
    /// constructor parameters with a default value.
    /// </summary>
    private static ProtocolEntry? Identify(JsonObject json)
    {
        var keys = json.Select(p => p.Key).Where(k => k != ResultProvenance.PropertyName).ToHashSet(StringComparer.Ordinal);
        var exact = ProtocolCatalog.All.FirstOrDefault(e => keys.SetEquals(ProtocolJson.Options.GetTypeInfo(e.ResultType).Properties.Select(p => p.Name)));
        if (exact is not null) return exact;
        var older = ProtocolCatalog.All.Where(e =>
        {
            var properties = ProtocolJson.Options.GetTypeInfo(e.ResultType).Properties;
            return keys.IsSubsetOf(properties.Select(p => p.Name)) &&
                   properties.Where(p => !keys.Contains(p.Name)).All(p => p.Set is null || p.AssociatedParameter is { HasDefaultValue: true });
        }).ToList();
        return older.Count == 1 ? older[0] : null;
    }

    private static IProtocolResult Deserialize(JsonObject json, ProtocolEntry entry, string file)
    {
        try
        {
            return (IProtocolResult)ProtocolJson.Deserialize(json.ToJsonString(), entry.ResultType);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException or InvalidOperationException)
        {
            throw new InvalidDataException($"{file} does not read as a {entry.Name} result: {FirstLine(e.Message)}");
        }
    }

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();
}
