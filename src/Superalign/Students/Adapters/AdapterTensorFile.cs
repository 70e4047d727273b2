using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace Superalign.Students.Adapters;

/// <summary>
/// A minimal safetensors writer and reader for the adapter files (float32 written; float32 and bfloat16 read).
/// </summary>
/// <remarks>
/// TODO(merge): to be replaced by the library's general safetensors reader/writer once it lands (written in parallel
/// with this one); kept internal and distinctly named so the two do not clash.
/// </remarks>
internal static class AdapterTensorFile
{
    /// <summary>Writes <paramref name="tensors"/> (float32, any device) with <paramref name="metadata"/>, atomically.</summary>
    public static void Write(string path, IReadOnlyList<(string Name, Tensor Value)> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors files are little-endian; this machine is not.");
        var datas = new List<byte[]>(tensors.Count);
        var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            foreach (var (key, value) in metadata) json.WriteString(key, value);
            json.WriteEndObject();
            long offset = 0;
            foreach (var (name, value) in tensors)
            {
                if (value.dtype != ScalarType.Float32)
                    throw new ArgumentException($"Tensor '{name}' is {value.dtype}; the adapter writer writes float32 only.", nameof(tensors));
                float[] values;
                using (var cpu = value.detach().cpu().contiguous()) values = cpu.data<float>().ToArray();
                var bytes = MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
                datas.Add(bytes);
                json.WriteStartObject(name);
                json.WriteString("dtype", "F32");
                json.WriteStartArray("shape");
                foreach (var d in value.shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes.Length);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes.Length;
            }
            json.WriteEndObject();
        }
        var head = header.ToArray().ToList();
        while (head.Count % 8 != 0) head.Add((byte)' ');
        var temp = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                Span<byte> length = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)head.Count);
                file.Write(length);
                file.Write(head.ToArray());
                foreach (var bytes in datas) file.Write(bytes);
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>
    /// Reads every tensor of the file as float32 on the CPU (outside any dispose scope: the caller disposes them).
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not a well-formed safetensors file of supported dtypes.</exception>
    public static Dictionary<string, Tensor> Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 8) throw Bad(path, "shorter than its 8-byte header length");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (n > (ulong)(bytes.Length - 8)) throw Bad(path, $"its header length {n} exceeds the file ({bytes.Length} bytes)");
        int dataStart = 8 + (int)n;
        long dataLength = bytes.Length - dataStart;
        var entries = new List<(string Name, string Dtype, long[] Shape, long Begin, long End)>();
        try
        {
            using var doc = JsonDocument.Parse(bytes.AsMemory(8, (int)n));
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__") continue;
                var e = property.Value;
                var dtype = e.GetProperty("dtype").GetString() ?? "";
                var shape = e.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
                var offsets = e.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
                if (offsets.Length != 2) throw Bad(path, $"'{property.Name}' has {offsets.Length} data offsets instead of 2");
                entries.Add((property.Name, dtype, shape, offsets[0], offsets[1]));
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new InvalidDataException($"'{path}' is not a safetensors file: its header is not valid ({e.Message}).", e);
        }
        if (entries.Select(e => e.Name).Distinct(StringComparer.Ordinal).Count() != entries.Count) throw Bad(path, "it names a tensor twice");
        foreach (var e in entries)
        {
            int size = e.Dtype switch { "F32" => 4, "BF16" => 2, _ => throw Bad(path, $"'{e.Name}' has dtype {e.Dtype}; adapters are read as F32 or BF16") };
            if (e.Shape.Any(d => d < 0)) throw Bad(path, $"'{e.Name}' has a negative dimension");
            long count = e.Shape.Aggregate(1L, (a, d) => checked(a * d));
            if (e.Begin < 0 || e.End < e.Begin || e.End > dataLength) throw Bad(path, $"'{e.Name}' has offsets [{e.Begin}, {e.End}] outside the data ({dataLength} bytes)");
            if (e.End - e.Begin != count * size) throw Bad(path, $"'{e.Name}' spans {e.End - e.Begin} bytes; its shape and dtype need {count * size}");
        }
        var sorted = entries.OrderBy(e => e.Begin).ToList();
        for (int i = 1; i < sorted.Count; i++)
        {
            if (sorted[i].Begin < sorted[i - 1].End) throw Bad(path, $"the data of '{sorted[i - 1].Name}' and '{sorted[i].Name}' overlap");
        }
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var e in entries)
        {
            var span = bytes.AsSpan(dataStart + (int)e.Begin, (int)(e.End - e.Begin));
            float[] values;
            if (e.Dtype == "F32")
            {
                values = MemoryMarshal.Cast<byte, float>(span).ToArray();
            }
            else
            {
                var halves = MemoryMarshal.Cast<byte, ushort>(span);
                values = new float[halves.Length];
                for (int i = 0; i < halves.Length; i++) values[i] = BitConverter.Int32BitsToSingle(halves[i] << 16);
            }
            var t = tensor(values, e.Shape, dtype: ScalarType.Float32);
            result[e.Name] = t.DetachFromDisposeScope();
        }
        return result;
    }

    private static InvalidDataException Bad(string path, string why) => new($"'{path}' is not a valid safetensors file: {why}.");
}
