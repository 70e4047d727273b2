using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Superalign.Checkpoints;

/// <summary>The kinds of value a checkpoint holds.</summary>
internal enum EntryKind
{
    Tensor,
    Int64,
    Double,
    String,
    Bytes,
}

/// <summary>
/// One value of a checkpoint: a tensor (dtype, shape and raw little-endian bytes), an integer, a double (kept as its
/// bits, so NaN payloads and signed zeros survive), a string or a byte string.
/// </summary>
internal sealed class CheckpointEntry
{
    public required string Key { get; init; }

    public required EntryKind Kind { get; init; }

    public ScalarType DType { get; init; }

    public long[] Shape { get; init; } = [];

    /// <summary>Tensor, string (UTF-8) or byte-string data; empty for numbers.</summary>
    public byte[] Data { get; init; } = [];

    /// <summary>An integer, or a double's bits.</summary>
    public long Bits { get; init; }

    public static int ElementSize(ScalarType dtype) => dtype switch
    {
        ScalarType.Byte or ScalarType.Int8 or ScalarType.Bool => 1,
        ScalarType.Int16 or ScalarType.Float16 or ScalarType.BFloat16 => 2,
        ScalarType.Int32 or ScalarType.Float32 => 4,
        ScalarType.Int64 or ScalarType.Float64 or ScalarType.ComplexFloat32 => 8,
        ScalarType.ComplexFloat64 => 16,
        _ => 0,
    };
}

/// <summary>
/// Collects the state of checkpoint parts, each in its own section (<see cref="Section"/>). Values are copied when
/// written: tensors to the CPU, so a write never holds on to a live tensor.
/// </summary>
public sealed class CheckpointWriter
{
    private readonly Dictionary<string, CheckpointEntry> _entries;
    private readonly string _prefix;

    internal CheckpointWriter() : this(new Dictionary<string, CheckpointEntry>(StringComparer.Ordinal), "")
    {
    }

    private CheckpointWriter(Dictionary<string, CheckpointEntry> entries, string prefix) => (_entries, _prefix) = (entries, prefix);

    internal IReadOnlyCollection<CheckpointEntry> Entries => _entries.Values;

    /// <summary>A writer whose keys go under <paramref name="name"/> (<c>name/key</c>).</summary>
    /// <param name="name">Section name: letters, digits and <c>. _ -</c>; no <c>/</c>.</param>
    public CheckpointWriter Section(string name)
    {
        CheckpointKeys.CheckName(name, nameof(name));
        return new CheckpointWriter(_entries, _prefix + name + "/");
    }

    /// <summary>Writes a copy of <paramref name="value"/> (any device; stored as contiguous CPU bytes).</summary>
    public void Write(string key, Tensor value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var dtype = value.dtype;
        if (CheckpointEntry.ElementSize(dtype) == 0)
            throw new ArgumentException($"Tensors of dtype {dtype} cannot be checkpointed.", nameof(value));
        using var scope = NewDisposeScope();
        var cpu = value.detach().cpu().contiguous();
        Add(new CheckpointEntry { Key = Full(key), Kind = EntryKind.Tensor, DType = dtype, Shape = value.shape.ToArray(), Data = cpu.bytes.ToArray() });
    }

    /// <summary>Writes an integer.</summary>
    public void Write(string key, long value) => Add(new CheckpointEntry { Key = Full(key), Kind = EntryKind.Int64, Bits = value });

    /// <summary>Writes a double, bit for bit.</summary>
    public void Write(string key, double value) =>
        Add(new CheckpointEntry { Key = Full(key), Kind = EntryKind.Double, Bits = BitConverter.DoubleToInt64Bits(value) });

    /// <summary>Writes a string (well-formed UTF-16: no lone surrogates).</summary>
    public void Write(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        byte[] utf8;
        try
        {
            utf8 = new UTF8Encoding(false, throwOnInvalidBytes: true).GetBytes(value);
        }
        catch (EncoderFallbackException e)
        {
            throw new ArgumentException($"The string for '{Full(key)}' is not well-formed UTF-16 (a lone surrogate).", nameof(value), e);
        }
        Add(new CheckpointEntry { Key = Full(key), Kind = EntryKind.String, Data = utf8 });
    }

    /// <summary>Writes a byte string.</summary>
    public void Write(string key, ReadOnlySpan<byte> value) =>
        Add(new CheckpointEntry { Key = Full(key), Kind = EntryKind.Bytes, Data = value.ToArray() });

    private string Full(string key)
    {
        CheckpointKeys.CheckName(key, nameof(key));
        return _prefix + key;
    }

    private void Add(CheckpointEntry entry)
    {
        if (!_entries.TryAdd(entry.Key, entry))
            throw new InvalidOperationException($"The checkpoint key '{entry.Key}' was written twice.");
    }
}

/// <summary>
/// Reads the values of a verified checkpoint (every checksum was checked before a reader exists). Every read names
/// the key when the value is missing or not what was asked for (<see cref="CheckpointException"/>).
/// </summary>
public sealed class CheckpointReader
{
    private readonly IReadOnlyDictionary<string, CheckpointEntry> _entries;
    private readonly string _prefix;

    internal CheckpointReader(string path, IReadOnlyDictionary<string, CheckpointEntry> entries, string prefix = "") =>
        (Path, _entries, _prefix) = (path, entries, prefix);

    /// <summary>The checkpoint file.</summary>
    public string Path { get; }

    /// <summary>Every entry of the file, by full key.</summary>
    internal IReadOnlyDictionary<string, CheckpointEntry> AllEntries => _entries;

    /// <summary>A reader of the keys under <paramref name="name"/>.</summary>
    public CheckpointReader Section(string name)
    {
        CheckpointKeys.CheckName(name, nameof(name));
        return new CheckpointReader(Path, _entries, _prefix + name + "/");
    }

    /// <summary>Whether the section holds anything under <paramref name="name"/> (a key or a sub-section).</summary>
    public bool HasSection(string name) => _entries.Keys.Any(k => k.StartsWith(_prefix + name + "/", StringComparison.Ordinal));

    /// <summary>The first path component of every key in this section (sub-section and key names), distinct, in ordinal order.</summary>
    internal IReadOnlyList<string> TopLevelNames() =>
        _entries.Keys.Where(k => k.StartsWith(_prefix, StringComparison.Ordinal))
            .Select(k => k[_prefix.Length..].Split('/')[0]).Distinct().Order(StringComparer.Ordinal).ToList();

    /// <summary>Whether <paramref name="key"/> is present.</summary>
    public bool Contains(string key) => _entries.ContainsKey(_prefix + key);

    /// <summary>The keys directly in this section (not those of sub-sections), in ordinal order.</summary>
    public IReadOnlyList<string> Keys =>
        _entries.Keys.Where(k => k.StartsWith(_prefix, StringComparison.Ordinal) && k.IndexOf('/', _prefix.Length) < 0)
            .Select(k => k[_prefix.Length..]).Order(StringComparer.Ordinal).ToList();

    /// <summary>The dtype and shape of the tensor at <paramref name="key"/>, without reading it.</summary>
    public (ScalarType DType, long[] Shape) TensorInfo(string key)
    {
        var e = Get(key, EntryKind.Tensor);
        return (e.DType, e.Shape.ToArray());
    }

    /// <summary>A new CPU tensor with the value at <paramref name="key"/> (the caller disposes it).</summary>
    public Tensor ReadTensor(string key)
    {
        var e = Get(key, EntryKind.Tensor);
        var t = empty(e.Shape, dtype: e.DType);
        if (e.Data.Length > 0) t.bytes = e.Data;
        return t;
    }

    /// <summary>
    /// A new CPU tensor with the value at <paramref name="key"/>, which must have <paramref name="dtype"/> and
    /// <paramref name="shape"/>; else a <see cref="CheckpointException"/> naming the key, expected and found.
    /// </summary>
    public Tensor ReadTensor(string key, ScalarType dtype, ReadOnlySpan<long> shape)
    {
        var e = Get(key, EntryKind.Tensor);
        if (e.DType != dtype || !e.Shape.AsSpan().SequenceEqual(shape))
            throw new CheckpointException(Path, _prefix + key,
                $"expected a {dtype} tensor of shape [{string.Join(", ", shape.ToArray())}]; the checkpoint holds {e.DType} [{string.Join(", ", e.Shape)}].");
        return ReadTensor(key);
    }

    /// <summary>The integer at <paramref name="key"/>.</summary>
    public long ReadInt64(string key) => Get(key, EntryKind.Int64).Bits;

    /// <summary>The integer at <paramref name="key"/>, which must lie in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public long ReadInt64(string key, long min, long max)
    {
        long v = ReadInt64(key);
        if (v < min || v > max) throw Invalid(key, $"must be in [{min}, {max}]; the checkpoint holds {v}.");
        return v;
    }

    /// <summary>The double at <paramref name="key"/>, bit for bit.</summary>
    public double ReadDouble(string key) => BitConverter.Int64BitsToDouble(Get(key, EntryKind.Double).Bits);

    /// <summary>The string at <paramref name="key"/>.</summary>
    public string ReadString(string key) => Encoding.UTF8.GetString(Get(key, EntryKind.String).Data);

    /// <summary>A copy of the byte string at <paramref name="key"/>.</summary>
    public byte[] ReadBytes(string key) => Get(key, EntryKind.Bytes).Data.ToArray();

    /// <summary>An error about <paramref name="key"/> in this checkpoint, for a part's own checks.</summary>
    public CheckpointException Invalid(string key, string problem) => new(Path, _prefix + key, problem);

    private CheckpointEntry Get(string key, EntryKind kind)
    {
        if (!_entries.TryGetValue(_prefix + key, out var e))
            throw new CheckpointException(Path, _prefix + key, "missing from the checkpoint (written by another kind of run, or a different configuration).");
        if (e.Kind != kind)
            throw new CheckpointException(Path, _prefix + key, $"expected a {kind.ToString().ToLowerInvariant()}; the checkpoint holds a {e.Kind.ToString().ToLowerInvariant()}.");
        return e;
    }
}

/// <summary>The key syntax of checkpoints.</summary>
internal static class CheckpointKeys
{
    /// <summary>A key or section name: 1–200 characters from letters, digits and <c>. _ -</c>.</summary>
    public static void CheckName(string name, string parameter)
    {
        ArgumentException.ThrowIfNullOrEmpty(name, parameter);
        if (name.Length > 200 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            throw new ArgumentException($"Checkpoint names use 1–200 characters from letters, digits and '. _ -'; got '{(name.Length > 60 ? name[..60] + "…" : name)}'.", parameter);
    }

    /// <summary>Whether a full key (sections joined by '/') is well formed.</summary>
    public static bool IsValidFullKey(string key) =>
        key.Length is > 0 and <= 4096 && key.Split('/').All(p => p.Length is > 0 and <= 200 && p.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'));
}
