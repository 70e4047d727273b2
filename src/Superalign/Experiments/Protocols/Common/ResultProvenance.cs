using System.Text.Json;
using System.Text.Json.Nodes;

namespace Superalign.Experiments.Protocols;

/// <summary>The units of a result that were computed in one environment (<see cref="RunProvenance.SameEnvironment"/>).</summary>
/// <param name="Provenance">The environment; its <see cref="RunProvenance.TimeUtc"/> is when the last of these units was written.</param>
/// <param name="Units">The units' keys, in ordinal order.</param>
public sealed record UnitProvenance(RunProvenance Provenance, IReadOnlyList<string> Units);

/// <summary>
/// The provenance of a result: the process that wrote it (a run, or a merge of units computed elsewhere) and the
/// distinct environments its units were computed in. <c>superalign run</c> and <c>superalign merge</c> write it as the
/// <c>provenance</c> property of result.json (<see cref="ProtocolJson.Write{T}"/>); readers of
/// the result record ignore it, and <see cref="Read"/> gives it back.
/// </summary>
/// <param name="Written">The process that wrote the result.</param>
/// <param name="Units">The distinct environments of the result's units (empty for a protocol without units).</param>
/// <param name="UnitsWithoutProvenance">Units stored by a version that recorded none (they read back and merge all the same).</param>
public sealed record ResultProvenance(RunProvenance Written, IReadOnlyList<UnitProvenance> Units, IReadOnlyList<string> UnitsWithoutProvenance)
{
    /// <summary>The name of the property of result.json that holds the provenance.</summary>
    public const string PropertyName = "provenance";

    /// <summary>A result computed entirely in this process without a run directory: every unit has <paramref name="written"/>'s environment.</summary>
    /// <param name="units">The result's units (<see cref="IProtocol.Units"/>).</param>
    /// <param name="written">This process's provenance; null: <see cref="RunProvenance.Capture"/>.</param>
    public static ResultProvenance ForProcess(IReadOnlyList<string> units, RunProvenance? written = null)
    {
        ArgumentNullException.ThrowIfNull(units);
        written ??= RunProvenance.Capture();
        return new ResultProvenance(written, units.Count == 0 ? [] : [new UnitProvenance(written, units.Order(StringComparer.Ordinal).ToList())], []);
    }

    /// <summary>
    /// The provenance of a result built from the units of run directory <paramref name="directory"/>: the units its
    /// <c>run.json</c> lists, each with the environment stored in its unit file (<see cref="ProtocolUnitStore.ReadProvenance"/>),
    /// grouped by environment. A unit without a file or without a stored provenance is listed in <see cref="UnitsWithoutProvenance"/>.
    /// </summary>
    /// <param name="directory">The run directory.</param>
    /// <param name="written">The provenance of the process writing the result; null: <see cref="RunProvenance.Capture"/>.</param>
    /// <exception cref="InvalidDataException">The directory's run.json is missing or not a run description; the message names it.</exception>
    public static ResultProvenance ForRunDirectory(string directory, RunProvenance? written = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        written ??= RunProvenance.Capture();
        string manifest = Path.Combine(directory, ProtocolUnitStore.ManifestFileName);
        if (!File.Exists(manifest)) throw new InvalidDataException($"{manifest} does not exist: {directory} is not a run directory.");
        List<string> units;
        try
        {
            units = (JsonNode.Parse(File.ReadAllText(manifest))?["units"] as JsonArray ?? throw new JsonException("it lists no units"))
                .Select(u => u?.GetValue<string>() ?? throw new JsonException("a unit is null")).ToList();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{manifest} is not a run description: {e.Message.Split('\n')[0].Trim()}");
        }
        var groups = new List<(RunProvenance Provenance, List<string> Units)>();
        var without = new List<string>();
        foreach (var unit in units.Order(StringComparer.Ordinal))
        {
            if (ProtocolUnitStore.ReadProvenance(directory, unit) is not { } provenance)
            {
                without.Add(unit);
                continue;
            }
            int index = groups.FindIndex(g => g.Provenance.SameEnvironment(provenance));
            if (index < 0)
            {
                groups.Add((provenance, [unit]));
                continue;
            }
            var group = groups[index];
            group.Units.Add(unit);
            if (provenance.TimeUtc > group.Provenance.TimeUtc) groups[index] = (provenance, group.Units);
        }
        return new ResultProvenance(written, groups.Select(g => new UnitProvenance(g.Provenance, g.Units)).ToList(), without);
    }

    /// <summary>The provenance stored in the result file <paramref name="path"/>, or null when it holds none (written by an earlier version).</summary>
    /// <exception cref="InvalidDataException">The file is not JSON, or its provenance does not read; the message names the file.</exception>
    public static ResultProvenance? Read(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        try
        {
            var node = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new JsonException("the top level is not an object");
            return node[PropertyName] is { } provenance ? provenance.Deserialize<ResultProvenance>(ProtocolJson.Options) : null;
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException)
        {
            throw new InvalidDataException($"{path}: the {PropertyName} does not read: {e.Message.Split('\n')[0].Trim()}");
        }
    }
}
