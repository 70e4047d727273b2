using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Superalign.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Superalign.Students.Pretrained;

/// <summary>
/// Reads and writes the safetensors format (an 8-byte little-endian header length, a JSON header naming each tensor's
/// dtype, shape and byte range, then the raw data) and Hugging Face checkpoint directories, single-file or sharded
/// with <c>model.safetensors.index.json</c>.
/// </summary>
/// <remarks>
/// This is an own reader rather than TorchSharp.PyBridge's <c>Safetensors.LoadStateDict</c>: it checks everything the
/// format allows to go wrong before allocating (a header length larger than the file, offsets outside the data or
/// overlapping, a byte range that does not match shape × dtype, an unknown dtype, a duplicate name, a shape whose size
/// overflows), reports every such file as a <see cref="CheckpointException"/> naming the file and the tensor, and adds
/// no package to the library. Dtypes: F64, F32, F16, BF16, I64, I32, I16, I8, U8 and BOOL; tensors are returned in
/// their stored dtype on the CPU.
/// </remarks>
public static class Safetensors
{
    /// <summary>File name of a single-file checkpoint.</summary>
    public const string ModelFile = "model.safetensors";

    /// <summary>File name of a sharded checkpoint's index.</summary>
    public const string IndexFile = "model.safetensors.index.json";

    private static readonly Dictionary<string, (ScalarType Type, int Size)> Dtypes = new(StringComparer.Ordinal)
    {
        ["F64"] = (ScalarType.Float64, 8),
        ["F32"] = (ScalarType.Float32, 4),
        ["F16"] = (ScalarType.Float16, 2),
        ["BF16"] = (ScalarType.BFloat16, 2),
        ["I64"] = (ScalarType.Int64, 8),
        ["I32"] = (ScalarType.Int32, 4),
        ["I16"] = (ScalarType.Int16, 2),
        ["I8"] = (ScalarType.Int8, 1),
        ["U8"] = (ScalarType.Byte, 1),
        ["BOOL"] = (ScalarType.Bool, 1),
    };

    /// <summary>
    /// Every tensor of the safetensors file <paramref name="path"/>, by name, in its stored dtype on the CPU. The
    /// caller owns the tensors (they are detached from any dispose scope).
    /// </summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="CheckpointException">The file is not valid safetensors (the message names the file and the tensor).</exception>
    public static Dictionary<string, Tensor> Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"No safetensors file at '{path}'.", path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var (entries, dataStart, _) = ReadHeader(path, stream);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var entry in entries.OrderBy(e => e.Begin))
            {
                var tensor = empty(entry.Shape, entry.Type, CPU);
                tensor.DetachFromDisposeScope();
                result.Add(entry.Name, tensor);
                if (entry.End == entry.Begin) continue;
                stream.Seek(dataStart + entry.Begin, SeekOrigin.Begin);
                tensor.ReadBytesFromStream(stream);
                if (stream.Position != dataStart + entry.End)
                    throw new CheckpointException(path, entry.Name, $"could not read bytes [{entry.Begin}, {entry.End}) of the data (the file changed or is truncated).");
            }
            return result;
        }
        catch (Exception e) when (e is IOException && e is not CheckpointException)
        {
            foreach (var t in result.Values) t.Dispose();
            throw new CheckpointException(path, null, $"could not be read ({e.Message}).", e);
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
    }

    /// <summary>The <c>__metadata__</c> strings and each tensor's dtype name and shape, without reading the data.</summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="CheckpointException">The file is not valid safetensors.</exception>
    public static (IReadOnlyDictionary<string, string> Metadata, IReadOnlyDictionary<string, (string Dtype, long[] Shape)> Tensors) ReadHeader(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"No safetensors file at '{path}'.", path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        var (entries, _, metadata) = ReadHeader(path, stream);
        return (metadata, entries.ToDictionary(e => e.Name, e => (e.Dtype, e.Shape), StringComparer.Ordinal));
    }

    /// <summary>
    /// Every tensor of the Hugging Face checkpoint in <paramref name="directory"/>: <c>model.safetensors</c>, or the
    /// shards listed by <c>model.safetensors.index.json</c> (each tensor must be in the shard the index names, and
    /// each shard's tensors in the index).
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">No such directory.</exception>
    /// <exception cref="CheckpointException">Neither file is there, the index is malformed, or a file is not valid.</exception>
    public static Dictionary<string, Tensor> LoadDirectory(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"No checkpoint directory '{directory}'.");
        string single = Path.Combine(directory, ModelFile), index = Path.Combine(directory, IndexFile);
        if (File.Exists(single)) return Load(single);
        if (!File.Exists(index))
            throw new CheckpointException(directory, null, $"holds neither {ModelFile} nor {IndexFile} (only safetensors checkpoints are read; pytorch_model.bin is not).");
        var weightMap = ReadIndex(index);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var shard in weightMap.Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
            {
                string shardPath = Path.Combine(directory, shard);
                if (!File.Exists(shardPath))
                    throw new CheckpointException(index, shard, $"the shard file {shardPath} does not exist.");
                foreach (var (name, tensor) in Load(shardPath))
                {
                    result[name] = tensor;
                    if (!weightMap.TryGetValue(name, out var listed) || listed != shard)
                        throw new CheckpointException(shardPath, name, $"the index {index} {(listed is null ? "does not list this tensor" : $"puts this tensor in {listed}")}.");
                }
            }
            var absent = weightMap.Keys.FirstOrDefault(k => !result.ContainsKey(k));
            if (absent is not null)
                throw new CheckpointException(Path.Combine(directory, weightMap[absent]), absent, $"the index {index} lists this tensor here but the shard does not hold it.");
            return result;
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Writes <paramref name="tensors"/> to <paramref name="path"/> as safetensors, in the given order, with
    /// <c>__metadata__</c> <c>{"format": "pt"}</c> plus <paramref name="metadata"/>, atomically (a temporary file,
    /// then renamed). Floating tensors are written as <paramref name="floatType"/> (float32 or bfloat16; null keeps
    /// each tensor's own dtype).
    /// </summary>
    /// <exception cref="ArgumentException">A name repeats or is <c>__metadata__</c>, or a dtype has no safetensors name.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="floatType"/> is neither float32 nor bfloat16.</exception>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, ScalarType? floatType = ScalarType.Float32,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        if (floatType is { } ft && ft != ScalarType.Float32 && ft != ScalarType.BFloat16)
            throw new ArgumentOutOfRangeException(nameof(floatType), floatType, $"{nameof(floatType)} must be Float32 or BFloat16 (or null); got {floatType}.");
        using var scope = NewDisposeScope();
        var items = new List<(string Name, Tensor Data, string Dtype)>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, tensor) in tensors)
        {
            if (name == "__metadata__" || !names.Add(name))
                throw new ArgumentException($"Tensor name '{name}' is repeated or reserved.", nameof(tensors));
            var data = tensor.detach();
            if (floatType is { } f && data.is_floating_point() && data.dtype != f) data = data.to_type(f);
            data = data.cpu().contiguous();
            string dtype = Dtypes.FirstOrDefault(d => d.Value.Type == data.dtype).Key
                ?? throw new ArgumentException($"Tensor '{name}' has dtype {data.dtype}, which safetensors cannot store here.", nameof(tensors));
            items.Add((name, data, dtype));
        }
        var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            json.WriteString("format", "pt");
            foreach (var (k, v) in metadata ?? new Dictionary<string, string>())
                if (k != "format") json.WriteString(k, v);
            json.WriteEndObject();
            long offset = 0;
            foreach (var (name, data, dtype) in items)
            {
                long bytes = data.numel() * Dtypes[dtype].Size;
                json.WriteStartObject(name);
                json.WriteString("dtype", dtype);
                json.WriteStartArray("shape");
                foreach (var d in data.shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        while (header.Length % 8 != 0) header.WriteByte((byte)' ');
        string directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        string temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                Span<byte> length = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
                file.Write(length);
                header.Position = 0;
                header.CopyTo(file);
                foreach (var (_, data, _) in items)
                    if (data.numel() > 0) data.WriteBytesToStream(file);
                file.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    private sealed record Entry(string Name, string Dtype, ScalarType Type, long[] Shape, long Begin, long End);

    private static (List<Entry> Entries, long DataStart, Dictionary<string, string> Metadata) ReadHeader(string path, FileStream stream)
    {
        long fileLength = stream.Length;
        if (fileLength < 8)
            throw new CheckpointException(path, null, $"is {fileLength} bytes long, shorter than the 8-byte header length of a safetensors file.");
        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        // Checked against the file before anything is allocated from it.
        if (headerLength > (ulong)(fileLength - 8))
            throw new CheckpointException(path, null, $"declares a {headerLength}-byte header but only {fileLength - 8} bytes follow the length (truncated or not safetensors).");
        if (headerLength < 2)
            throw new CheckpointException(path, null, $"declares a {headerLength}-byte header, too short for a JSON object.");
        var bytes = new byte[headerLength];
        stream.ReadExactly(bytes);
        long dataStart = 8 + (long)headerLength, dataLength = fileLength - dataStart;
        var entries = new List<Entry>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
            throw new CheckpointException(path, null, "has a header that is not valid UTF-8.");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or DecoderFallbackException)
        {
            throw new CheckpointException(path, null, $"has a header that is not valid JSON ({e.Message}).", e);
        }
        using (document)
        try
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new CheckpointException(path, null, $"has a header that is a JSON {document.RootElement.ValueKind}, not an object.");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                string name = property.Name;
                if (!seen.Add(name))
                    throw new CheckpointException(path, name, "the header names this tensor twice.");
                if (name == "__metadata__")
                {
                    if (property.Value.ValueKind != JsonValueKind.Object)
                        throw new CheckpointException(path, name, "must be an object of strings.");
                    foreach (var m in property.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String)
                            throw new CheckpointException(path, name, $"entry '{m.Name}' is not a string.");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                entries.Add(ParseEntry(path, name, property.Value, dataLength));
            }
        }
        catch (Exception e) when (e is InvalidOperationException or DecoderFallbackException or FormatException or JsonException)
        {
            throw new CheckpointException(path, null, $"has a header that cannot be read ({e.Message}).", e);
        }
        // Byte ranges must not overlap (gaps are tolerated).
        var sorted = entries.Where(e => e.End > e.Begin).OrderBy(e => e.Begin).ToList();
        for (int i = 1; i < sorted.Count; i++)
            if (sorted[i].Begin < sorted[i - 1].End)
                throw new CheckpointException(path, sorted[i].Name, $"its bytes [{sorted[i].Begin}, {sorted[i].End}) overlap those of '{sorted[i - 1].Name}' [{sorted[i - 1].Begin}, {sorted[i - 1].End}).");
        return (entries, dataStart, metadata);
    }

    private static Entry ParseEntry(string path, string name, JsonElement value, long dataLength)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new CheckpointException(path, name, "is not an object with dtype, shape and data_offsets.");
        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw new CheckpointException(path, name, "has no dtype string.");
        string dtype = dtypeElement.GetString()!;
        if (!Dtypes.TryGetValue(dtype, out var type))
            throw new CheckpointException(path, name, $"has dtype '{dtype}', which is not supported (supported: {string.Join(", ", Dtypes.Keys)}).");
        if (!value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw new CheckpointException(path, name, "has no shape array.");
        var shape = new List<long>();
        long elements = 1;
        foreach (var d in shapeElement.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim) || dim < 0)
                throw new CheckpointException(path, name, $"has a shape entry {d.GetRawText()} that is not a non-negative integer.");
            shape.Add(dim);
            try { elements = checked(elements * dim); }
            catch (OverflowException) { throw new CheckpointException(path, name, $"has a shape [{string.Join(", ", shape)}…] whose size overflows."); }
        }
        if (shape.Count > 64) throw new CheckpointException(path, name, $"has {shape.Count} dimensions.");
        if (!value.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
            throw new CheckpointException(path, name, "has no data_offsets [begin, end].");
        if (!offsets[0].TryGetInt64(out long begin) || !offsets[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw new CheckpointException(path, name, $"has data_offsets {offsets.GetRawText()}, not 0 <= begin <= end.");
        if (end > dataLength)
            throw new CheckpointException(path, name, $"has data_offsets [{begin}, {end}) outside the {dataLength}-byte data buffer (truncated file?).");
        long expected;
        try { expected = checked(elements * type.Size); }
        catch (OverflowException) { throw new CheckpointException(path, name, "has a shape whose byte size overflows."); }
        if (end - begin != expected)
            throw new CheckpointException(path, name, $"holds {end - begin} bytes but {dtype} [{string.Join(", ", shape)}] needs {expected}.");
        return new Entry(name, dtype, type.Type, shape.ToArray(), begin, end);
    }

    private static Dictionary<string, string> ReadIndex(string index)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(index));
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new CheckpointException(index, "weight_map", "the index has no weight_map object.");
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in map.EnumerateObject())
            {
                string? shard = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : null;
                if (string.IsNullOrEmpty(shard) || shard != Path.GetFileName(shard))
                    throw new CheckpointException(index, p.Name, $"the weight_map entry {p.Value.GetRawText()} is not a file name in the checkpoint's directory.");
                if (!result.TryAdd(p.Name, shard))
                    throw new CheckpointException(index, p.Name, "the weight_map lists this tensor twice.");
            }
            return result;
        }
        catch (JsonException e)
        {
            throw new CheckpointException(index, null, $"is not valid JSON ({e.Message}).", e);
        }
    }
}
