using System.Diagnostics;
using Superalign.Checkpoints;
using Xunit;
using static Superalign.Tests.Checkpoints.CheckpointTestSupport;
using static TorchSharp.torch;

namespace Superalign.Tests.Checkpoints;

public sealed class CheckpointFileTests
{
    /// <summary>A part that writes one value of every kind and reads them back into public fields.</summary>
    private sealed class Everything : ICheckpointable
    {
        public Tensor? F32, Bf16, Scalar, Empty, Int64s, Bools;
        public long Integer;
        public double Nan, NegativeZero, Huge;
        public string Text = "";
        public byte[] Blob = [];

        public static Everything Sample()
        {
            var g = new Generator(3);
            return new Everything
            {
                F32 = randn([3, 4], generator: g),
                Bf16 = randn([5], generator: g).to_type(ScalarType.BFloat16),
                Scalar = tensor(2.5f),
                Empty = zeros([0, 7]),
                Int64s = tensor(new long[] { long.MinValue, -1, 0, long.MaxValue }),
                Bools = tensor(new[] { true, false, true }),
                Integer = long.MinValue + 7,
                Nan = BitConverter.Int64BitsToDouble(0x7FF8_0000_0000_1234),
                NegativeZero = -0.0,
                Huge = double.MaxValue,
                Text = "ünï — 日本 \n \"quoted\" 🙂",
                Blob = Enumerable.Range(0, 300).Select(i => (byte)(i * 7)).ToArray(),
            };
        }

        public void SaveState(CheckpointWriter writer)
        {
            writer.Write("f32", F32!);
            writer.Write("bf16", Bf16!);
            writer.Write("scalar", Scalar!);
            writer.Write("empty", Empty!);
            writer.Write("int64s", Int64s!);
            writer.Write("bools", Bools!);
            writer.Write("integer", Integer);
            writer.Write("nan", Nan);
            writer.Write("negative-zero", NegativeZero);
            writer.Write("huge", Huge);
            writer.Write("text", Text);
            writer.Write("blob", Blob);
        }

        public Action PrepareRestore(CheckpointReader reader)
        {
            var loaded = new Everything
            {
                F32 = reader.ReadTensor("f32", ScalarType.Float32, [3, 4]),
                Bf16 = reader.ReadTensor("bf16"),
                Scalar = reader.ReadTensor("scalar"),
                Empty = reader.ReadTensor("empty"),
                Int64s = reader.ReadTensor("int64s"),
                Bools = reader.ReadTensor("bools"),
                Integer = reader.ReadInt64("integer"),
                Nan = reader.ReadDouble("nan"),
                NegativeZero = reader.ReadDouble("negative-zero"),
                Huge = reader.ReadDouble("huge"),
                Text = reader.ReadString("text"),
                Blob = reader.ReadBytes("blob"),
            };
            return () =>
            {
                (F32, Bf16, Scalar, Empty, Int64s, Bools) = (loaded.F32, loaded.Bf16, loaded.Scalar, loaded.Empty, loaded.Int64s, loaded.Bools);
                (Integer, Nan, NegativeZero, Huge, Text, Blob) = (loaded.Integer, loaded.Nan, loaded.NegativeZero, loaded.Huge, loaded.Text, loaded.Blob);
            };
        }
    }

    private static byte[] Bytes(Tensor t) => t.contiguous().bytes.ToArray();

    [Fact]
    public void Every_kind_of_value_round_trips_bit_for_bit()
    {
        string dir = TempDir();
        var saved = Everything.Sample();
        string path = Path.Combine(dir, "all.ckpt");
        Checkpoint.Save(path, new Dictionary<string, ICheckpointable> { ["part"] = saved });
        var loaded = new Everything();
        Checkpoint.Load(path, new Dictionary<string, ICheckpointable> { ["part"] = loaded });

        foreach (var (a, b) in new[] { (saved.F32, loaded.F32), (saved.Bf16, loaded.Bf16), (saved.Scalar, loaded.Scalar), (saved.Empty, loaded.Empty), (saved.Int64s, loaded.Int64s), (saved.Bools, loaded.Bools) })
        {
            Assert.Equal(a!.dtype, b!.dtype);
            Assert.Equal(a.shape, b.shape);
            Assert.Equal(Bytes(a), Bytes(b));
        }
        Assert.Equal(saved.Integer, loaded.Integer);
        Assert.Equal(BitConverter.DoubleToInt64Bits(saved.Nan), BitConverter.DoubleToInt64Bits(loaded.Nan));
        Assert.Equal(BitConverter.DoubleToInt64Bits(-0.0), BitConverter.DoubleToInt64Bits(loaded.NegativeZero));
        Assert.Equal(double.MaxValue, loaded.Huge);
        Assert.Equal(saved.Text, loaded.Text);
        Assert.Equal(saved.Blob, loaded.Blob);
    }

    [Fact]
    public void The_same_state_gives_the_same_bytes_and_leaves_no_temporary_files()
    {
        string dir = TempDir();
        var part = Everything.Sample();
        var parts = new Dictionary<string, ICheckpointable> { ["b"] = part, ["a"] = part };
        Checkpoint.Save(Path.Combine(dir, "1.ckpt"), parts);
        Checkpoint.Save(Path.Combine(dir, "2.ckpt"), parts);
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir, "1.ckpt")), File.ReadAllBytes(Path.Combine(dir, "2.ckpt")));
        Assert.Equal(["1.ckpt", "2.ckpt"], Directory.GetFiles(dir).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void Truncation_at_every_byte_and_every_flipped_byte_is_rejected_and_changes_nothing()
    {
        string dir = TempDir();
        string path = Path.Combine(dir, "x.ckpt");
        var small = new Everything
        {
            F32 = tensor(new[] { 1f, 2f }), Bf16 = tensor(new[] { 1f }).to_type(ScalarType.BFloat16), Scalar = tensor(1f), Empty = zeros(0),
            Int64s = tensor(new long[] { 5 }), Bools = tensor(new[] { true }), Text = "t", Blob = [1, 2],
        };
        Checkpoint.Save(path, new Dictionary<string, ICheckpointable> { ["p"] = small });
        var original = File.ReadAllBytes(path);
        var target = Everything.Sample();
        string bad = Path.Combine(dir, "bad.ckpt");

        void AssertRejected(byte[] bytes, string what)
        {
            File.WriteAllBytes(bad, bytes);
            var e = Record.Exception(() => Checkpoint.Load(bad, new Dictionary<string, ICheckpointable> { ["p"] = target }));
            Assert.True(e is CheckpointException, $"{what}: expected a CheckpointException, got {e?.GetType().Name ?? "success"}: {e?.Message}");
            Assert.Contains(bad, e!.Message);
            Assert.Equal(long.MinValue + 7, target.Integer);
            Assert.Equal(3, target.F32!.shape[0]);
        }

        for (int length = 0; length < original.Length; length++) AssertRejected(original[..length], $"truncated to {length}");
        for (int i = 0; i < original.Length; i++)
        {
            var flipped = original.ToArray();
            flipped[i] ^= 0x10;
            AssertRejected(flipped, $"byte {i} flipped");
        }
        AssertRejected([.. original, 0], "one byte appended");
    }

    [Fact]
    public void Errors_name_the_file_and_the_key_and_missing_sections()
    {
        string dir = TempDir();
        string path = Path.Combine(dir, "x.ckpt");
        Checkpoint.Save(path, new Dictionary<string, ICheckpointable> { ["p"] = Everything.Sample() });
        var missing = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path, new Dictionary<string, ICheckpointable> { ["q"] = new Everything() }));
        Assert.Contains("no section 'q'", missing.Message);
        Assert.Contains("p", missing.Message);

        var reader = Checkpoint.Read(path).Section("p");
        var shape = Assert.Throws<CheckpointException>(() => reader.ReadTensor("f32", ScalarType.Float32, [4, 3]));
        Assert.Equal("p/f32", shape.Key);
        Assert.Contains("[4, 3]", shape.Message);
        Assert.Contains("[3, 4]", shape.Message);
        var kind = Assert.Throws<CheckpointException>(() => reader.ReadInt64("text"));
        Assert.Contains("expected a int64", kind.Message);

        File.WriteAllText(Path.Combine(dir, "text.ckpt"), new string('x', 500));
        Assert.Contains("not a Superalign checkpoint", Assert.Throws<CheckpointException>(() => Checkpoint.Read(Path.Combine(dir, "text.ckpt"))).Message);
        Assert.Throws<FileNotFoundException>(() => Checkpoint.Read(Path.Combine(dir, "none.ckpt")));
        Assert.Contains("is a directory", Assert.Throws<CheckpointException>(() => Checkpoint.Read(dir)).Message);
    }

    [Fact]
    public async Task Devices_and_fifos_are_rejected_without_reading_them()
    {
        if (!OperatingSystem.IsLinux()) return;
        Assert.Contains("too short", Assert.Throws<CheckpointException>(() => Checkpoint.Read("/dev/zero")).Message);
        string fifo = Path.Combine(TempDir(), "pipe");
        using (var mk = Process.Start(new ProcessStartInfo("mkfifo", fifo) { UseShellExecute = false })!) mk.WaitForExit();
        Assert.True(File.Exists(fifo));
        // Opening a FIFO without a writer blocks forever: the length check must come first.
        var read = Task.Run(() => Record.Exception(() => Checkpoint.Read(fifo)));
        Assert.True(await Task.WhenAny(read, Task.Delay(TimeSpan.FromSeconds(30))) == read, "Reading a FIFO hung.");
        Assert.IsType<CheckpointException>(await read);
    }

    [Fact]
    public void Saving_to_a_directory_path_is_refused()
    {
        string dir = TempDir();
        var parts = new Dictionary<string, ICheckpointable> { ["p"] = Everything.Sample() };
        Assert.Throws<ArgumentException>(() => Checkpoint.Save(dir + Path.DirectorySeparatorChar, parts));
        Assert.Throws<ArgumentException>(() => Checkpoint.Save(dir, parts));
        Assert.Empty(Directory.GetFileSystemEntries(dir));
    }

    [Fact]
    public void Concurrent_saves_to_one_path_all_succeed_and_leave_one_valid_file()
    {
        string dir = TempDir();
        string path = Path.Combine(dir, "shared.ckpt");
        var parts = new Dictionary<string, ICheckpointable> { ["p"] = Everything.Sample() };
        var errors = new System.Collections.Concurrent.ConcurrentBag<Exception>();
        Parallel.For(0, 200, new ParallelOptions { MaxDegreeOfParallelism = 4 }, _ =>
        {
            try { Checkpoint.Save(path, parts); }
            catch (Exception e) { errors.Add(e); }
        });
        Assert.Empty(errors);
        Assert.Equal(["shared.ckpt"], Directory.GetFiles(dir).Select(Path.GetFileName));
        Assert.Contains("p", Checkpoint.Sections(Checkpoint.Read(path)));
    }

    [Fact]
    public void A_temporary_file_left_by_a_dead_process_is_removed_by_the_next_save()
    {
        string dir = TempDir();
        string path = Path.Combine(dir, "m.ckpt");
        // A process id that cannot be running: above Linux's pid_max limit (2^22).
        const int dead = (1 << 22) + 5;
        string stale = AtomicFile.TemporaryName(Path.GetFullPath(path), dead);
        string live = AtomicFile.TemporaryName(Path.GetFullPath(path), Environment.ProcessId);
        string other = AtomicFile.TemporaryName(Path.GetFullPath(Path.Combine(dir, "other.ckpt")), dead);
        string elsewhere = Path.Combine(dir, $".m.ckpt.other{AtomicFile.HostTag}.{dead}.0123.tmp");
        foreach (var f in new[] { stale, live, other, elsewhere }) File.WriteAllBytes(f, [1, 2, 3]);
        Checkpoint.Save(path, new Dictionary<string, ICheckpointable> { ["p"] = Everything.Sample() });
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(live), "A temporary file of a running process (this one) must stay.");
        Assert.True(File.Exists(other), "Only temporary files of the saved path are touched.");
        Assert.True(File.Exists(elsewhere), "Another host's temporary files (a shared directory) are never touched.");
    }

    [Fact]
    public void Keys_are_checked_when_written()
    {
        var writer = new CheckpointWriter();
        Assert.Throws<ArgumentException>(() => writer.Write("a/b", 1L));
        Assert.Throws<ArgumentException>(() => writer.Write("", 1L));
        Assert.Throws<ArgumentException>(() => writer.Section("x y"));
        writer.Write("k", 1L);
        Assert.Throws<InvalidOperationException>(() => writer.Write("k", 2L));
        Assert.Throws<ArgumentException>(() => writer.Write("s", "\ud800"));
    }
}
