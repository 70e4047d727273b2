using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Superalign.Checkpoints;

namespace Superalign.Experiments.Protocols;

/// <summary>
/// The finished units of one protocol run, kept in a run directory: <c>run.json</c> (protocol, fingerprint, units,
/// options) and one file per unit, <c>units/&lt;unit&gt;.json</c>, each written atomically and stamped with the fingerprint
/// of the options and the provenance of the process that computed it (<see cref="RunProvenance"/>). Used by <see cref="Protocol{TOptions, TResult}"/> when a <see cref="ProtocolRun.Directory"/> is set.
/// </summary>
/// <remarks>
/// <para><b>Atomic writes.</b> A unit is serialised to a temporary file with a unique name in the same folder
/// (<c>.&lt;unit&gt;.json.&lt;host&gt;.&lt;pid&gt;.&lt;random&gt;.tmp</c>), flushed to disk (<see cref="FileStream.Flush(bool)"/> with
/// <c>true</c>) and moved onto its final name, so a unit file is either absent or complete. Temporary files that a
/// dead process of this host left behind are deleted when the store is opened; those of live processes (another shard
/// of the same run) and of other hosts are left alone.</para>
/// <para><b>Fingerprint.</b> SHA-256 (hex) of a format tag, the protocol's name, the options as <see cref="ProtocolJson"/>
/// writes them (every option, including the device), <see cref="ProtocolRun.ExternalInputs"/> and the protocol's own
/// data inputs (the names and SHA-256 of the data files its options name, when any). A directory or unit
/// file with another fingerprint is refused with an <see cref="InvalidOperationException"/> that names the directory
/// and both fingerprints: results of two configurations are never mixed, and nothing is deleted behind your back.</para>
/// <para><b>Damaged files.</b> A unit file that is not valid JSON (e.g. truncated by a full disk), names another unit
/// or protocol, or does not hold the unit's data is reported with a warning through the logger and treated as
/// missing: the unit is computed again and the file replaced.</para>
/// </remarks>
public sealed class ProtocolUnitStore
{
    /// <summary>The file of the run's description in the run directory.</summary>
    public const string ManifestFileName = "run.json";

    /// <summary>The folder of the unit files in the run directory.</summary>
    public const string UnitsFolderName = "units";

    private const string Format = "superalign-protocol-units/1";
    private readonly ILogger _logger;

    private ProtocolUnitStore(string directory, string protocol, string fingerprint, ILogger logger)
    {
        Directory = directory;
        Protocol = protocol;
        Fingerprint = fingerprint;
        _logger = logger;
    }

    /// <summary>The run directory (full path).</summary>
    public string Directory { get; }

    /// <summary>The protocol's name.</summary>
    public string Protocol { get; }

    /// <summary>The fingerprint every unit file of this store carries (<see cref="ComputeFingerprint"/>).</summary>
    public string Fingerprint { get; }

    /// <summary>
    /// The fingerprint of a configuration: SHA-256, as 64 lowercase hex digits, of a format tag, the protocol's name,
    /// the options as <see cref="ProtocolJson"/> writes them (their runtime type's properties),
    /// <paramref name="externalInputs"/> and, when given, <paramref name="dataInputs"/> (without them the fingerprint is
    /// the one earlier versions computed, so existing run directories stay valid).
    /// </summary>
    /// <param name="protocol">The protocol's name.</param>
    /// <param name="options">The options.</param>
    /// <param name="externalInputs">What else decides the results (<see cref="ProtocolRun.ExternalInputs"/>), or null.</param>
    /// <param name="dataInputs">
    /// The data files the options name, with their content hashes, as the protocol describes them (e.g.
    /// <c>SftData=data/sft.jsonl sha256:…</c>), or null when the options name none: changed data never merge with old units.
    /// </param>
    public static string ComputeFingerprint(string protocol, IProtocolOptions options, string? externalInputs = null, string? dataInputs = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(protocol);
        ArgumentNullException.ThrowIfNull(options);
        string text = string.Join("\n", Format, protocol, OptionsJson(options), externalInputs ?? "");
        if (dataInputs is not null) text += "\ndata:" + dataInputs;
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    /// <summary>
    /// Opens (creating it if needed) the run directory of a configuration: checks or writes <c>run.json</c> and deletes
    /// temporary files that dead processes of this host left behind.
    /// </summary>
    /// <param name="directory">The run directory.</param>
    /// <param name="protocol">The protocol's name.</param>
    /// <param name="options">The options (their fingerprint stamps every unit).</param>
    /// <param name="units">The protocol's units, recorded in <c>run.json</c>.</param>
    /// <param name="externalInputs">What else decides the results (<see cref="ProtocolRun.ExternalInputs"/>), or null.</param>
    /// <param name="logger">Receives the warnings about damaged files; null: none.</param>
    /// <param name="dataInputs">The protocol's data files and their hashes (see <see cref="ComputeFingerprint"/>), or null.</param>
    /// <exception cref="InvalidOperationException">The directory holds a run of another protocol or other options.</exception>
    public static ProtocolUnitStore Open(string directory, string protocol, IProtocolOptions options, IReadOnlyList<string> units,
        string? externalInputs = null, ILogger? logger = null, string? dataInputs = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ArgumentNullException.ThrowIfNull(units);
        foreach (var unit in units) CheckUnitKey(unit);
        string fingerprint = ComputeFingerprint(protocol, options, externalInputs, dataInputs);
        var store = new ProtocolUnitStore(Path.GetFullPath(directory), protocol, fingerprint, logger ?? NullLogger.Instance);
        System.IO.Directory.CreateDirectory(Path.Combine(store.Directory, UnitsFolderName));
        store.DeleteStaleTemporaries(store.Directory);
        store.DeleteStaleTemporaries(Path.Combine(store.Directory, UnitsFolderName));

        string manifest = Path.Combine(store.Directory, ManifestFileName);
        if (File.Exists(manifest))
        {
            JsonNode? node = null;
            try
            {
                node = JsonNode.Parse(File.ReadAllText(manifest));
            }
            catch (JsonException e)
            {
                store._logger.LogWarning("The run description {Path} is damaged ({Error}); it is written again", manifest, e.Message);
            }
            if (node is not null)
            {
                string? storedProtocol = (string?)node["protocol"], storedFingerprint = (string?)node["fingerprint"];
                if (storedProtocol != protocol || storedFingerprint != fingerprint)
                    throw store.Mismatch(manifest, storedProtocol, storedFingerprint);
                return store;
            }
        }
        var description = new JsonObject
        {
            ["format"] = Format,
            ["protocol"] = protocol,
            ["fingerprint"] = fingerprint,
            ["externalInputs"] = externalInputs,
            ["units"] = new JsonArray(units.Select(u => (JsonNode?)JsonValue.Create(u)).ToArray()),
            ["options"] = JsonNode.Parse(OptionsJson(options)),
        };
        if (dataInputs is not null) description["dataInputs"] = dataInputs;
        WriteAtomically(manifest, description.ToJsonString(ProtocolJson.Options));
        return store;
    }

    /// <summary>The file of <paramref name="unit"/>.</summary>
    /// <exception cref="ArgumentException">The key is not a valid unit key (letters, digits, '-', '_', '.'; not starting with '.').</exception>
    public string UnitPath(string unit)
    {
        CheckUnitKey(unit);
        return Path.Combine(Directory, UnitsFolderName, unit + ".json");
    }

    /// <summary>The units that have a file in the directory (not yet checked), in ordinal order.</summary>
    public IReadOnlyList<string> StoredUnits() =>
        System.IO.Directory.EnumerateFiles(Path.Combine(Directory, UnitsFolderName), "*.json")
            .Select(Path.GetFileNameWithoutExtension).OfType<string>().Where(u => !u.StartsWith('.')).Order(StringComparer.Ordinal).ToList();

    /// <summary>
    /// Reads the stored data of <paramref name="unit"/>. False when there is no file, or when the file is damaged (a
    /// warning is logged and the unit should be computed again).
    /// </summary>
    /// <typeparam name="T">The unit's data type, as given to <see cref="Write{T}"/>.</typeparam>
    /// <param name="unit">The unit's key.</param>
    /// <param name="value">The data read back.</param>
    /// <exception cref="InvalidOperationException">The file was written with another fingerprint.</exception>
    public bool TryRead<T>(string unit, [MaybeNullWhen(false)] out T value)
    {
        string path = UnitPath(unit);
        value = default;
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (FileNotFoundException)
        {
            return false;
        }
        string? problem = null;
        bool mismatch = false;
        string? fingerprint = null;
        try
        {
            var node = JsonNode.Parse(text) as JsonObject ?? throw new JsonException("not a JSON object");
            fingerprint = (string?)node["fingerprint"];
            if ((string?)node["format"] != Format) problem = $"format is '{(string?)node["format"]}', not '{Format}'";
            else if ((string?)node["protocol"] != Protocol) problem = $"it belongs to protocol '{(string?)node["protocol"]}'";
            else if ((string?)node["unit"] != unit) problem = $"it holds unit '{(string?)node["unit"]}'";
            else if (fingerprint != Fingerprint) mismatch = true;
            else if (node["data"] is not { } data) problem = "it holds no data";
            else value = data.Deserialize<T>(ProtocolJson.Options) ?? throw new JsonException("the data are null");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NotSupportedException or FormatException)
        {
            problem = e.Message;
        }
        if (mismatch) throw Mismatch(path, Protocol, fingerprint);
        if (problem is null) return value is not null;
        value = default;
        _logger.LogWarning("Unit {Unit} of {Directory} is damaged ({Problem}); it is computed again", unit, Directory, problem);
        return false;
    }

    /// <summary>
    /// Writes the data of <paramref name="unit"/> atomically (replacing any earlier file of the unit), with the
    /// provenance of this process (<see cref="RunProvenance.Capture"/>): a unit computed on another machine (a Slurm
    /// shard) keeps the record of where it was computed (<see cref="ReadProvenance"/>).
    /// </summary>
    /// <typeparam name="T">The unit's data type: a record that <see cref="ProtocolJson"/> writes and reads back exactly.</typeparam>
    /// <param name="unit">The unit's key.</param>
    /// <param name="value">The unit's data.</param>
    public void Write<T>(string unit, T value)
    {
        string path = UnitPath(unit);
        var node = new JsonObject
        {
            ["format"] = Format,
            ["protocol"] = Protocol,
            ["unit"] = unit,
            ["fingerprint"] = Fingerprint,
            ["data"] = JsonSerializer.SerializeToNode(value, ProtocolJson.Options),
            [ProvenanceProperty] = JsonSerializer.SerializeToNode(RunProvenance.Capture(), ProtocolJson.Options),
        };
        WriteAtomically(path, node.ToJsonString(ProtocolJson.Options));
    }

    /// <summary>The property of a unit file that holds the provenance of the process that computed it.</summary>
    public const string ProvenanceProperty = "provenance";

    /// <summary>
    /// Where unit <paramref name="unit"/> of run directory <paramref name="directory"/> was computed, as its file
    /// records it; null when the unit has no file, the file is damaged, or it was written by a version that recorded no
    /// provenance (such units still read back and merge). The fingerprint is not checked: this reads the record only.
    /// </summary>
    /// <param name="directory">The run directory.</param>
    /// <param name="unit">The unit's key.</param>
    public static RunProvenance? ReadProvenance(string directory, string unit)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        CheckUnitKey(unit);
        string path = Path.Combine(directory, UnitsFolderName, unit + ".json");
        try
        {
            return (JsonNode.Parse(File.ReadAllText(path)) as JsonObject)?[ProvenanceProperty]?.Deserialize<RunProvenance>(ProtocolJson.Options);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or JsonException or InvalidOperationException or NotSupportedException or FormatException)
        {
            return null;
        }
    }

    /// <summary>Throws unless <paramref name="unit"/> is a valid unit key.</summary>
    internal static void CheckUnitKey(string unit)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(unit);
        if (unit.StartsWith('.') || !unit.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            throw new ArgumentException($"A unit key holds ASCII letters, digits, '-', '_' and '.', and does not start with '.'; got '{unit}'.", nameof(unit));
    }

    private static string OptionsJson(IProtocolOptions options) => ProtocolJson.Serialize(options);

    private InvalidOperationException Mismatch(string path, string? protocol, string? fingerprint) => new(
        $"The run directory '{Directory}' holds a run of another configuration: {path} has protocol '{protocol}' and fingerprint " +
        $"{fingerprint ?? "(none)"}, this run is '{Protocol}' with fingerprint {Fingerprint}. Results of different options are " +
        "never mixed: use another directory, or delete this one to start over.");

    private static void WriteAtomically(string path, string text) => AtomicFile.Write(path, stream => stream.Write(Encoding.UTF8.GetBytes(text)));

    /// <summary>Deletes <c>.*.tmp</c> files of this host whose process is gone.</summary>
    private void DeleteStaleTemporaries(string folder)
    {
        foreach (var file in AtomicFile.RemoveStale(folder)) _logger.LogInformation("Deleted {Path}, left behind by a process that no longer runs", file);
    }
}
