using System.Buffers.Binary;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Superalign.Checkpoints;
using Superalign.Students.Pretrained;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Students;

public sealed class SafetensorsTests
{
    private static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "superalign-safetensors-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static byte[] Bits(Tensor t)
    {
        using var stream = new MemoryStream();
        t.contiguous().WriteBytesToStream(stream);
        return stream.ToArray();
    }

    /// <summary>A file with the given header text and data bytes.</summary>
    private static string Raw(string dir, string header, int dataBytes, ulong? declared = null)
    {
        string path = Path.Combine(dir, Guid.NewGuid().ToString("N") + ".safetensors");
        var text = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + text.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declared ?? (ulong)text.Length);
        text.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void Round_trip_is_bit_exact_for_every_dtype_with_pt_metadata()
    {
        using var scope = NewDisposeScope();
        string path = Path.Combine(TempDir(), "t.safetensors");
        var tensors = new Dictionary<string, Tensor>
        {
            ["f32"] = randn(3, 4),
            ["f16"] = randn(5).to_type(ScalarType.Float16),
            ["bf16"] = randn(2, 3).to_type(ScalarType.BFloat16),
            ["i64"] = arange(6L).reshape(2, 3) - 3,
            ["scalar"] = tensor(2.5f),
            ["empty"] = zeros(0, 4),
        };
        Safetensors.Save(path, tensors, floatType: null);
        var (metadata, header) = Safetensors.ReadHeader(path);
        Assert.Equal("pt", metadata["format"]);
        Assert.Equal("F16", header["f16"].Dtype);
        Assert.Equal(new long[] { 5 }, header["f16"].Shape);
        Assert.Equal("BF16", header["bf16"].Dtype);
        Assert.Equal("I64", header["i64"].Dtype);
        var loaded = Safetensors.Load(path);
        Assert.Equal(tensors.Keys.Order(), loaded.Keys.Order());
        foreach (var (key, t) in tensors)
        {
            using var back = loaded[key];
            Assert.Equal(t.dtype, back.dtype);
            Assert.Equal(t.shape, back.shape);
            Assert.Equal(Bits(t), Bits(back));
        }
        Assert.Equal(0UL, BinaryPrimitives.ReadUInt64LittleEndian(File.ReadAllBytes(path)) % 8); // header padded to 8 bytes
    }

    [Fact]
    public void Bf16_is_the_upper_half_of_float32_and_saving_as_bf16_rounds()
    {
        using var scope = NewDisposeScope();
        string path = Path.Combine(TempDir(), "b.safetensors");
        var x = tensor(new[] { 1.0f, -2.5f, 3.140625f });
        Safetensors.Save(path, new Dictionary<string, Tensor> { ["x"] = x }, floatType: ScalarType.BFloat16);
        var bytes = File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var data = bytes.AsSpan(8 + (int)n);
        Assert.Equal(6, data.Length);
        Assert.Equal(0x3F80, BinaryPrimitives.ReadUInt16LittleEndian(data)); // 1.0f = 0x3F800000
        using var back = Safetensors.Load(path)["x"];
        Assert.Equal(new[] { 1.0f, -2.5f, 3.140625f }, back.to_type(ScalarType.Float32).data<float>().ToArray());
    }

    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 8, 1_000_000UL, "header")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 4, null, "outside")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12, null, "overlap")]
    [InlineData("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8, null, "needs 12")]
    [InlineData("""{"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}""", 2, null, "F8_E4M3")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, null, "twice")]
    [InlineData("""{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", 4, null, "non-negative")]
    [InlineData("""{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}}""", 4, null, "overflows")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}""", 8, null, "begin <= end")]
    [InlineData("""[1,2]""", 0, null, "not an object")]
    [InlineData("""{"a":""", 0, null, "not valid JSON")]
    public void Invalid_files_are_rejected_naming_the_file(string header, int dataBytes, ulong? declared, string problem)
    {
        string path = Raw(TempDir(), header, dataBytes, declared);
        var e = Assert.Throws<CheckpointException>(() => Safetensors.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(problem, e.Message);
        if (header.Contains("\"a\":{")) Assert.True(e.Key is "a" or "b" or null, e.Message);
    }

    [Fact]
    public void Files_shorter_than_the_length_prefix_are_rejected()
    {
        string path = Path.Combine(TempDir(), "short.safetensors");
        File.WriteAllBytes(path, new byte[] { 1, 2, 3 });
        var e = Assert.Throws<CheckpointException>(() => Safetensors.Load(path));
        Assert.Contains(path, e.Message);
    }

    /// <summary>One edit of a byte string; positions are fractions of the length.</summary>
    public sealed record Mutation(int Kind, double Where, int Value, int Count);

    private static readonly Arbitrary<Mutation[]> Mutations =
        (from n in Gen.Choose(1, 4)
         from list in (from kind in Gen.Choose(0, 5)
                       from at in Gen.Choose(0, 1_000_000).Select(i => i / 1_000_000.0)
                       from value in Gen.Choose(0, 255)
                       from count in Gen.Choose(1, 64)
                       select new Mutation(kind, at, value, count)).ArrayOf(n)
         select list).ToArbitrary();

    private static byte[] Apply(byte[] original, IEnumerable<Mutation> mutations, int headerEnd)
    {
        var bytes = original.ToList();
        foreach (var m in mutations)
        {
            // Kind 5 aims at the length prefix and header, where most of the structure is.
            int at = m.Kind == 5 ? Math.Min(bytes.Count, (int)(m.Where * Math.Min(headerEnd, bytes.Count))) : Math.Min(bytes.Count, (int)(m.Where * bytes.Count));
            switch (m.Kind)
            {
                case 0 when at < bytes.Count: bytes[at] ^= (byte)(1 << (m.Value % 8)); break;
                case 1 or 5 when at < bytes.Count: bytes[at] = (byte)m.Value; break;
                case 2: bytes.RemoveRange(at, bytes.Count - at); break;
                case 3: bytes.InsertRange(at, Enumerable.Repeat((byte)m.Value, m.Count)); break;
                case 4: bytes.RemoveRange(at, Math.Min(m.Count, bytes.Count - at)); break;
            }
        }
        return bytes.ToArray();
    }

    [Fact]
    public void Mutated_files_load_or_throw_one_exception_naming_the_file()
    {
        string dir = TempDir();
        string good = Path.Combine(dir, "good.safetensors");
        using (var scope = NewDisposeScope())
            Safetensors.Save(good, new Dictionary<string, Tensor>
            {
                ["w"] = randn(4, 3),
                ["b"] = randn(3).to_type(ScalarType.BFloat16),
                ["ids"] = arange(5L),
                ["h"] = randn(2).to_type(ScalarType.Float16),
            }, floatType: null);
        var original = File.ReadAllBytes(good);
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(original);
        string bad = Path.Combine(dir, "mutated.safetensors");
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(400), Prop.ForAll(Mutations, mutations =>
        {
            File.WriteAllBytes(bad, Apply(original, mutations, headerEnd));
            var load = Task.Run(() =>
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                var e = Record.Exception(() =>
                {
                    foreach (var t in Safetensors.Load(bad).Values) t.Dispose();
                });
                return (e, GC.GetAllocatedBytesForCurrentThread() - before);
            });
            if (!load.Wait(TimeSpan.FromSeconds(30))) return false;
            var (error, allocated) = load.Result;
            bool ok = allocated < 10_000_000 && (error is null || error is CheckpointException c && c.Message.Contains(bad) && c.Message.Length < 2000);
            return ok ? true : throw new Xunit.Sdk.XunitException($"allocated {allocated} bytes; {error}");
        }));
    }

    [Fact]
    public void Sharded_directories_need_every_tensor_where_the_index_says()
    {
        string dir = TempDir();
        using var scope = NewDisposeScope();
        Safetensors.Save(Path.Combine(dir, "a.safetensors"), new Dictionary<string, Tensor> { ["x"] = ones(2) });
        Safetensors.Save(Path.Combine(dir, "b.safetensors"), new Dictionary<string, Tensor> { ["y"] = zeros(3) });
        string index = Path.Combine(dir, Safetensors.IndexFile);
        File.WriteAllText(index, """{"metadata":{"total_size":20},"weight_map":{"x":"a.safetensors","y":"b.safetensors"}}""");
        var all = Safetensors.LoadDirectory(dir);
        Assert.Equal(new[] { "x", "y" }, all.Keys.Order());
        foreach (var t in all.Values) t.Dispose();

        File.WriteAllText(index, """{"weight_map":{"x":"a.safetensors","y":"a.safetensors"}}""");
        var e = Assert.Throws<CheckpointException>(() => Safetensors.LoadDirectory(dir));
        Assert.Contains("y", e.Message);
        File.WriteAllText(index, """{"weight_map":{"x":"a.safetensors","y":"../b.safetensors"}}""");
        Assert.Throws<CheckpointException>(() => Safetensors.LoadDirectory(dir));
        File.WriteAllText(index, """{"weight_map":{"x":"a.safetensors","y":"c.safetensors"}}""");
        Assert.Contains("c.safetensors", Assert.Throws<CheckpointException>(() => Safetensors.LoadDirectory(dir)).Message);
        File.Delete(index);
        Assert.Contains(Safetensors.ModelFile, Assert.Throws<CheckpointException>(() => Safetensors.LoadDirectory(dir)).Message);
    }
}
