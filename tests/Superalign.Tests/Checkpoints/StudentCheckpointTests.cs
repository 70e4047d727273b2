using Superalign.Checkpoints;
using Superalign.Students;
using Xunit;
using static Superalign.Tests.Checkpoints.CheckpointTestSupport;
using static TorchSharp.torch;

namespace Superalign.Tests.Checkpoints;

public sealed class StudentCheckpointTests
{
    private static MlpClassifier Mlp(int classes = 4, long seed = 1) => new(new MlpClassifierOptions(6, classes, HiddenWidth: 8, Depth: 2, Seed: seed), CPU);

    [Fact]
    public void Save_then_load_restores_every_tensor_bit_for_bit()
    {
        string path = Path.Combine(TempDir(), "s.ckpt");
        using var a = Mlp(seed: 1);
        using var b = Mlp(seed: 2);
        Assert.NotEqual(Snapshot(a).SelectMany(x => x), Snapshot(b).SelectMany(x => x));
        a.Save(path);
        b.Load(path);
        Assert.Equal(Snapshot(a), Snapshot(b));
    }

    [Fact]
    public void A_damaged_or_foreign_file_is_rejected_and_the_student_is_bitwise_unchanged()
    {
        string dir = TempDir();
        string good = Path.Combine(dir, "good.ckpt");
        using (var source = Mlp(seed: 1)) source.Save(good);
        var original = File.ReadAllBytes(good);
        using var student = Mlp(seed: 2);
        var before = Snapshot(student);
        string bad = Path.Combine(dir, "bad.ckpt");

        void Rejected(byte[] bytes, string what)
        {
            File.WriteAllBytes(bad, bytes);
            var e = Record.Exception(() => student.Load(bad));
            Assert.True(e is CheckpointException, $"{what}: expected a CheckpointException, got {e?.GetType().Name ?? "success"}: {e?.Message}");
            Assert.Equal(before, Snapshot(student));
        }

        foreach (long cut in Boundaries(original)) Rejected(original[..(int)cut], $"truncated at boundary {cut}");
        var rng = new Random(5);
        foreach (int i in Enumerable.Range(0, 200).Select(_ => rng.Next(original.Length)).Append(original.Length - 1))
        {
            var flipped = original.ToArray();
            flipped[i] ^= (byte)(1 << rng.Next(8));
            Rejected(flipped, $"bit flipped at byte {i}");
        }
        // A valid header followed by garbage.
        var garbage = original.ToArray();
        for (int i = garbage.Length / 2; i < garbage.Length; i++) garbage[i] = (byte)(i * 31);
        Rejected(garbage, "second half garbage");

        // The same architecture with another class count: named key, both shapes.
        string other = Path.Combine(dir, "other.ckpt");
        using (var five = Mlp(classes: 5)) five.Save(other);
        var e = Assert.Throws<CheckpointException>(() => student.Load(other));
        Assert.Contains("[4, 8]", e.Message);
        Assert.Contains("[5, 8]", e.Message);
        Assert.NotNull(e.Key);
        Assert.Equal(before, Snapshot(student));
    }

    [Fact]
    public void A_legacy_torchsharp_file_loads_and_a_foreign_one_leaves_the_student_unchanged()
    {
        string dir = TempDir();
        using var a = Mlp(seed: 1);
        string legacy = Path.Combine(dir, "legacy.bin");
        a.Module.save(legacy);
        using var b = Mlp(seed: 2);
        b.Load(legacy);
        Assert.Equal(Snapshot(a), Snapshot(b));

        using var five = Mlp(classes: 5, seed: 3);
        string foreign = Path.Combine(dir, "foreign.bin");
        five.Module.save(foreign);
        var before = Snapshot(b);
        Assert.Throws<CheckpointException>(() => b.Load(foreign));
        Assert.Equal(before, Snapshot(b));

        var bytes = File.ReadAllBytes(legacy);
        File.WriteAllBytes(foreign, bytes[..(bytes.Length / 2)]);
        Assert.Throws<CheckpointException>(() => b.Load(foreign));
        Assert.Equal(before, Snapshot(b));
    }

    [Fact]
    public void A_disposed_student_throws_instead_of_writing_or_cloning()
    {
        string path = Path.Combine(TempDir(), "d.ckpt");
        var student = Mlp();
        student.Dispose();
        Assert.Throws<ObjectDisposedException>(() => student.Save(path));
        Assert.Throws<ObjectDisposedException>(() => student.Clone());
        Assert.Throws<ObjectDisposedException>(() => student.Load(path));
        Assert.Throws<ObjectDisposedException>(() => student.Parameters());
        Assert.Throws<ObjectDisposedException>(() => student.SetTraining(true));
        Assert.False(File.Exists(path));
        student.Dispose();
    }

    [Fact]
    public void StudentFiles_rebuilds_the_built_in_students_from_their_file_alone()
    {
        string dir = TempDir();
        using var mlp = Mlp(classes: 3, seed: 9);
        mlp.Save(Path.Combine(dir, "mlp.ckpt"));
        using var mlpBack = StudentFiles.Open(Path.Combine(dir, "mlp.ckpt"), CPU);
        var rebuilt = Assert.IsType<MlpClassifier>(mlpBack);
        Assert.Equal(mlp.Options, rebuilt.Options);
        Assert.Equal(Snapshot(mlp), Snapshot(rebuilt));

        using var lm = new TinyCausalLm(new TinyCausalLmOptions(9, 12, ModelDim: 8, Layers: 1, Heads: 2, Dropout: 0.1, Seed: 4), CPU);
        lm.Save(Path.Combine(dir, "lm.ckpt"));
        using var lmBack = StudentFiles.Open(Path.Combine(dir, "lm.ckpt"), CPU);
        Assert.Equal(lm.Options, Assert.IsType<TinyCausalLm>(lmBack).Options);
        Assert.Equal(Snapshot(lm), Snapshot((TorchStudent)lmBack));

        // A probe wraps a trunk (code), which a file cannot hold: a clear error, not a half-built student.
        using var probe = new LinearProbe(x => x, new LinearProbeOptions(4, 4, 2), CPU);
        probe.Save(Path.Combine(dir, "probe.ckpt"));
        var e = Assert.Throws<CheckpointException>(() => StudentFiles.Open(Path.Combine(dir, "probe.ckpt"), CPU));
        Assert.Contains("stores no configuration", e.Message);
    }
}

public sealed class TokenizerCheckpointTests
{
    [Fact]
    public void A_run_keeps_its_tokenizer_and_refuses_another()
    {
        string path = Path.Combine(TempDir(), "tok.ckpt");
        // Single characters of an emoji are lone surrogates: the alphabet is stored as code units, not as text.
        var tokenizer = Superalign.Data.CharacterTokenizer.FromTexts(["abc 🙂", "xyz"]);
        Checkpoint.Save(path, new Dictionary<string, ICheckpointable> { ["tokenizer"] = tokenizer });
        var reader = Checkpoint.Read(path).Section("tokenizer");
        Assert.Equal(tokenizer.Alphabet, Superalign.Data.CharacterTokenizer.FromCheckpoint(reader).Alphabet);
        Checkpoint.Load(path, new Dictionary<string, ICheckpointable> { ["tokenizer"] = new Superalign.Data.CharacterTokenizer(tokenizer.Alphabet) });
        var other = new Superalign.Data.CharacterTokenizer("abc");
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path, new Dictionary<string, ICheckpointable> { ["tokenizer"] = other }));
        Assert.Contains("another character tokenizer", e.Message);
    }
}
