using System.Buffers.Binary;
using System.Diagnostics;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace Superalign.Checkpoints;

/// <summary>
/// The checkpoint file format, version 1. Layout (integers little-endian):
/// <code>
/// "SUPERALN"  uint32 version = 1  uint32 flags = 0  int64 H
/// header: H bytes of UTF-8 JSON (data length, and per entry: key, kind, dtype, shape, offset, length, SHA-256; numbers inline)
/// SHA-256 of everything before it (32 bytes)
/// data: the entries' bytes, back to back in header order
/// "SAEND001"  int64 data length
/// </code>
/// Every byte is covered by a check: the prefix and header by the header hash, each entry's data by its own hash, the
/// total length by the header's data length and the trailer. Entries are written in key order, so the same state
/// gives the same bytes. A file is written under a unique temporary name in the target's directory, flushed to disk
/// and renamed over the target, so a reader sees the old file or the new one, never a mixture.
/// </summary>
internal static class CheckpointFile
{
    public const int Version = 1;
    private static readonly byte[] Magic = "SUPERALN"u8.ToArray();
    private static readonly byte[] TrailerMagic = "SAEND001"u8.ToArray();
    private const int PrefixLength = 24, HashLength = 32, TrailerLength = 16;
    private const long MaxHeaderLength = 256L << 20;

    /// <summary>Smallest possible file: prefix, an empty header's hash and the trailer.</summary>
    public const long MinimumLength = PrefixLength + HashLength + TrailerLength;

    /// <summary>Whether the file begins with the format's magic bytes.</summary>
    public static bool HasMagic(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists || info.Length < Magic.Length) return false;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        Span<byte> head = stackalloc byte[8];
        return stream.ReadAtLeast(head, 8, throwOnEndOfStream: false) == 8 && head.SequenceEqual(Magic);
    }

    public static void Write(string path, IReadOnlyCollection<CheckpointEntry> entries)
    {
        var ordered = entries.OrderBy(e => e.Key, StringComparer.Ordinal).ToList();
        var hashes = ordered.Select(e => e.Kind is EntryKind.Int64 or EntryKind.Double ? null : SHA256.HashData(e.Data)).ToList();
        long dataLength = ordered.Sum(e => (long)e.Data.Length);
        var header = Header(ordered, hashes, dataLength);
        var prefix = new byte[PrefixLength];
        Magic.CopyTo(prefix, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(prefix.AsSpan(8), Version);
        BinaryPrimitives.WriteUInt32LittleEndian(prefix.AsSpan(12), 0);
        BinaryPrimitives.WriteInt64LittleEndian(prefix.AsSpan(16), header.Length);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(prefix);
        hash.AppendData(header);
        var headerHash = hash.GetHashAndReset();
        var trailer = new byte[TrailerLength];
        TrailerMagic.CopyTo(trailer, 0);
        BinaryPrimitives.WriteInt64LittleEndian(trailer.AsSpan(8), dataLength);

        AtomicFile.Write(path, stream =>
        {
            stream.Write(prefix);
            stream.Write(header);
            stream.Write(headerHash);
            foreach (var e in ordered) stream.Write(e.Data);
            stream.Write(trailer);
        });
    }

    private static byte[] Header(List<CheckpointEntry> ordered, List<byte[]?> hashes, long dataLength)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("writer", $"Superalign {typeof(CheckpointFile).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?"}");
            json.WriteNumber("dataLength", dataLength);
            json.WriteStartArray("entries");
            long offset = 0;
            for (int i = 0; i < ordered.Count; i++)
            {
                var e = ordered[i];
                json.WriteStartObject();
                json.WriteString("key", e.Key);
                json.WriteString("kind", e.Kind.ToString());
                if (e.Kind is EntryKind.Int64 or EntryKind.Double)
                {
                    json.WriteNumber("bits", e.Bits);
                }
                else
                {
                    if (e.Kind == EntryKind.Tensor)
                    {
                        json.WriteString("dtype", e.DType.ToString());
                        json.WriteStartArray("shape");
                        foreach (long d in e.Shape) json.WriteNumberValue(d);
                        json.WriteEndArray();
                    }
                    json.WriteNumber("offset", offset);
                    json.WriteNumber("length", e.Data.Length);
                    json.WriteString("sha256", Convert.ToHexStringLower(hashes[i]!));
                    offset += e.Data.Length;
                }
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>Reads and verifies the whole file; returns its entries by key.</summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="CheckpointException">Anything else wrong with the file.</exception>
    public static Dictionary<string, CheckpointEntry> Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var info = new FileInfo(path);
        if (Directory.Exists(path)) throw new CheckpointException(path, null, "is a directory, not a checkpoint file.");
        if (!info.Exists) throw new FileNotFoundException($"No checkpoint at '{path}'.", path);
        // FIFOs and devices report length 0: rejected here, before an open that could block or never end.
        long length = info.Length;
        if (length < MinimumLength)
            throw new CheckpointException(path, null, $"is {length} bytes, too short to be a checkpoint (at least {MinimumLength}); truncated, or not a regular file.");
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            var prefix = ReadExactly(stream, PrefixLength, path, "the file prefix");
            if (!prefix.AsSpan(0, 8).SequenceEqual(Magic))
                throw new CheckpointException(path, null, "is not a Superalign checkpoint (it does not start with \"SUPERALN\").");
            uint version = BinaryPrimitives.ReadUInt32LittleEndian(prefix.AsSpan(8));
            if (version != Version)
                throw new CheckpointException(path, null, $"has format version {version}; this library reads version {Version}.");
            if (BinaryPrimitives.ReadUInt32LittleEndian(prefix.AsSpan(12)) != 0)
                throw new CheckpointException(path, null, "has flags this library does not know (the file is corrupt or from a newer version).");
            long headerLength = BinaryPrimitives.ReadInt64LittleEndian(prefix.AsSpan(16));
            if (headerLength < 2 || headerLength > MaxHeaderLength || headerLength > length - MinimumLength)
                throw new CheckpointException(path, null, $"declares a header of {headerLength} bytes, impossible in a file of {length} bytes (corrupt or truncated).");
            var header = ReadExactly(stream, (int)headerLength, path, "the header");
            var storedHash = ReadExactly(stream, HashLength, path, "the header checksum");
            using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                hash.AppendData(prefix);
                hash.AppendData(header);
                if (!hash.GetHashAndReset().AsSpan().SequenceEqual(storedHash))
                    throw new CheckpointException(path, null, "the header checksum does not match (the file is corrupt).");
            }
            var (dataLength, layout) = ParseHeader(header, path);
            long expected = PrefixLength + headerLength + HashLength + dataLength + TrailerLength;
            if (length != expected)
                throw new CheckpointException(path, null, length < expected
                    ? $"is truncated: {length} bytes of {expected}."
                    : $"has {length - expected} bytes more than its header describes ({expected}).");
            var entries = new Dictionary<string, CheckpointEntry>(StringComparer.Ordinal);
            foreach (var (entry, sha) in layout)
            {
                if (sha is not null)
                {
                    var data = ReadExactly(stream, entry.Data.Length, path, $"the data of '{entry.Key}'");
                    if (!SHA256.HashData(data).AsSpan().SequenceEqual(sha))
                        throw new CheckpointException(path, entry.Key, "its checksum does not match (the file is corrupt).");
                    entries[entry.Key] = new CheckpointEntry { Key = entry.Key, Kind = entry.Kind, DType = entry.DType, Shape = entry.Shape, Data = data };
                }
                else
                {
                    entries[entry.Key] = entry;
                }
            }
            var trailer = ReadExactly(stream, TrailerLength, path, "the trailer");
            if (!trailer.AsSpan(0, 8).SequenceEqual(TrailerMagic) || BinaryPrimitives.ReadInt64LittleEndian(trailer.AsSpan(8)) != dataLength)
                throw new CheckpointException(path, null, "the trailer is damaged (the file is corrupt).");
            return entries;
        }
        catch (IOException e) when (e is not CheckpointException and not FileNotFoundException)
        {
            throw new CheckpointException(path, null, $"could not be read: {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new CheckpointException(path, null, $"could not be read: {e.Message}", e);
        }
    }

    /// <summary>The entries as the header lays them out: numbers complete, data entries sized (data still to read) with their hash.</summary>
    private static (long DataLength, List<(CheckpointEntry Entry, byte[]? Sha)> Layout) ParseHeader(byte[] header, string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 8 });
            var root = doc.RootElement;
            long dataLength = root.GetProperty("dataLength").GetInt64();
            if (dataLength < 0) throw new FormatException("negative data length");
            var layout = new List<(CheckpointEntry, byte[]?)>();
            var keys = new HashSet<string>(StringComparer.Ordinal);
            long offset = 0;
            foreach (var item in root.GetProperty("entries").EnumerateArray())
            {
                string key = item.GetProperty("key").GetString() ?? "";
                if (!CheckpointKeys.IsValidFullKey(key)) throw new FormatException($"an entry key is malformed ('{Excerpt(key)}')");
                if (!keys.Add(key)) throw new FormatException($"the key '{key}' appears twice");
                if (!Enum.TryParse<EntryKind>(item.GetProperty("kind").GetString(), ignoreCase: false, out var kind) || !Enum.IsDefined(kind))
                    throw new FormatException($"'{key}' has an unknown kind");
                if (kind is EntryKind.Int64 or EntryKind.Double)
                {
                    layout.Add((new CheckpointEntry { Key = key, Kind = kind, Bits = item.GetProperty("bits").GetInt64() }, null));
                    continue;
                }
                long entryOffset = item.GetProperty("offset").GetInt64();
                long entryLength = item.GetProperty("length").GetInt64();
                if (entryOffset != offset || entryLength < 0 || entryLength > Array.MaxLength || offset + entryLength > dataLength)
                    throw new FormatException($"'{key}' lies outside the data region");
                var sha = Convert.FromHexString(item.GetProperty("sha256").GetString() ?? "");
                if (sha.Length != HashLength) throw new FormatException($"'{key}' has a malformed checksum");
                var dtype = ScalarType.Byte;
                long[] shape = [];
                if (kind == EntryKind.Tensor)
                {
                    if (!Enum.TryParse(item.GetProperty("dtype").GetString(), ignoreCase: false, out dtype) || CheckpointEntry.ElementSize(dtype) == 0)
                        throw new FormatException($"'{key}' has an unknown dtype");
                    shape = item.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
                    if (shape.Length > 16) throw new FormatException($"'{key}' has more than 16 dimensions");
                    long bytes = CheckpointEntry.ElementSize(dtype);
                    foreach (long d in shape)
                    {
                        if (d < 0) throw new FormatException($"'{key}' has a negative dimension");
                        bytes = checked(bytes * d);
                    }
                    if (bytes != entryLength) throw new FormatException($"'{key}': its shape and dtype need {bytes} bytes, its length is {entryLength}");
                }
                layout.Add((new CheckpointEntry { Key = key, Kind = kind, DType = dtype, Shape = shape, Data = new byte[entryLength] }, sha));
                offset += entryLength;
            }
            if (offset != dataLength) throw new FormatException($"the entries cover {offset} of {dataLength} data bytes");
            return (dataLength, layout);
        }
        catch (Exception e) when (e is JsonException or FormatException or KeyNotFoundException or InvalidOperationException or OverflowException or ArgumentException)
        {
            throw new CheckpointException(path, null, $"the header is not valid: {Excerpt(e.Message)}.", e);
        }
    }

    private static byte[] ReadExactly(Stream stream, int count, string path, string what)
    {
        var buffer = new byte[count];
        int read = stream.ReadAtLeast(buffer, count, throwOnEndOfStream: false);
        if (read != count) throw new CheckpointException(path, null, $"is truncated in {what}.");
        return buffer;
    }

    private static string Excerpt(string s) => s.Length > 120 ? s[..120] + "…" : s;
}

/// <summary>
/// Writes a file atomically: under a unique temporary name beside the target (<c>.name.host.pid.guid.tmp</c>), flushed
/// to disk, then renamed over the target. A failed write removes its temporary file; temporary files left by processes
/// of this host that no longer run (a kill during a save) are removed by the next save of the same file. Files of
/// other hosts (a directory shared by the nodes of a cluster) are never touched.
/// </summary>
internal static class AtomicFile
{
    /// <summary>This machine's name as it appears in temporary names (letters and digits; others become '_').</summary>
    public static string HostTag { get; } = string.Concat(Environment.MachineName.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_'));

    /// <summary>The temporary name a process <paramref name="pid"/> of this host uses for <paramref name="fullPath"/>.</summary>
    public static string TemporaryName(string fullPath, int pid) =>
        System.IO.Path.Combine(System.IO.Path.GetDirectoryName(fullPath)!, $".{System.IO.Path.GetFileName(fullPath)}.{HostTag}.{pid}.{Guid.NewGuid():N}.tmp");

    public static void Write(string path, Action<FileStream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (path.EndsWith(System.IO.Path.DirectorySeparatorChar) || path.EndsWith(System.IO.Path.AltDirectorySeparatorChar) || Directory.Exists(path))
            throw new ArgumentException($"'{path}' names a directory; give a file path.", nameof(path));
        string full = System.IO.Path.GetFullPath(path);
        string dir = System.IO.Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        RemoveStale(dir, System.IO.Path.GetFileName(full));
        string temp = TemporaryName(full, Environment.ProcessId);
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>
    /// Deletes the temporary files in <paramref name="dir"/> (of the file <paramref name="name"/> only, when given) that
    /// processes of this host left behind and that no longer run; returns the deleted paths.
    /// </summary>
    public static IReadOnlyList<string> RemoveStale(string dir, string? name = null)
    {
        var deleted = new List<string>();
        string[] candidates;
        try { candidates = Directory.GetFiles(dir, name is null ? ".*.tmp" : $".{name}.*.tmp"); }
        catch (IOException) { return deleted; }
        catch (UnauthorizedAccessException) { return deleted; }
        foreach (var file in candidates)
        {
            // . <name> . <host> . <pid> . <guid> . tmp
            var parts = System.IO.Path.GetFileName(file).Split('.');
            if (parts.Length < 6 || parts[^4] != HostTag || !int.TryParse(parts[^3], out int pid) || IsRunning(pid)) continue;
            try
            {
                File.Delete(file);
                deleted.Add(file);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return deleted;
    }

    private static bool IsRunning(int pid)
    {
        if (pid == Environment.ProcessId) return true;
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
