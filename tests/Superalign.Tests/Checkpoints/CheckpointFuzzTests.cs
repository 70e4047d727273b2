using FsCheck;
using FsCheck.Fluent;
using Superalign.Checkpoints;
using Superalign.Optimization;
using Superalign.Students;
using Superalign.TestHost;
using Xunit;
using static Superalign.Tests.Checkpoints.CheckpointTestSupport;
using static TorchSharp.torch;

namespace Superalign.Tests.Checkpoints;

/// <summary>
/// Fuzzing of checkpoint bytes: a valid student file and a valid training checkpoint, mutated (bit flips, byte
/// writes, truncations, insertions, deletions, in any number), are either byte-identical to the original (and load) or
/// are rejected with a <see cref="CheckpointException"/> naming the file, leaving the student and the optimizer
/// bitwise unchanged. No other exception, no hang. The number of cases is <c>SUPERALIGN_FUZZ_CASES</c> (default 300);
/// docs/reliability.md gives the long run.
/// </summary>
public sealed class CheckpointFuzzTests
{
    private static int Cases => int.TryParse(Environment.GetEnvironmentVariable("SUPERALIGN_FUZZ_CASES"), out int n) && n > 0 ? n : 300;

    private static readonly Config Config = Config.QuickThrowOnFailure.WithMaxTest(Cases);

    /// <summary>One edit of a byte string; positions are fractions of the length, so any file size works.</summary>
    public sealed record Mutation(int Kind, double Where, int Value, int Count);

    private static readonly Gen<Mutation> OneMutation =
        from kind in Gen.Choose(0, 4)
        from at in Gen.Choose(0, 1_000_000).Select(i => i / 1_000_000.0)
        from value in Gen.Choose(0, 255)
        from count in Gen.Choose(1, 64)
        select new Mutation(kind, at, value, count);

    private static readonly Arbitrary<Mutation[]> Mutations =
        (from n in Gen.Choose(1, 4)
         from list in OneMutation.ArrayOf(n)
         select list).ToArbitrary();

    private static byte[] Apply(byte[] original, IEnumerable<Mutation> mutations)
    {
        var bytes = original.ToList();
        foreach (var m in mutations)
        {
            int at = Math.Min(bytes.Count, (int)(m.Where * bytes.Count));
            switch (m.Kind)
            {
                case 0 when at < bytes.Count: bytes[at] ^= (byte)(1 << (m.Value % 8)); break;
                case 1 when at < bytes.Count: bytes[at] = (byte)m.Value; break;
                case 2: bytes.RemoveRange(at, bytes.Count - at); break;
                case 3: bytes.InsertRange(at, Enumerable.Repeat((byte)m.Value, m.Count)); break;
                case 4: bytes.RemoveRange(at, Math.Min(m.Count, bytes.Count - at)); break;
            }
        }
        return bytes.ToArray();
    }

    [Fact]
    public void Mutated_student_files_load_only_when_unchanged()
    {
        string dir = TempDir();
        string good = Path.Combine(dir, "good.ckpt");
        using (var source = new MlpClassifier(new MlpClassifierOptions(5, 3, HiddenWidth: 6, Depth: 1, Seed: 1), CPU)) source.Save(good);
        var original = File.ReadAllBytes(good);
        using var student = new MlpClassifier(new MlpClassifierOptions(5, 3, HiddenWidth: 6, Depth: 1, Seed: 2), CPU);
        var before = Snapshot(student);
        string bad = Path.Combine(dir, "mutated.ckpt");
        // The unmutated file loads (into a third student), so a rejection below is the mutation's doing.
        using (var check = new MlpClassifier(new MlpClassifierOptions(5, 3, HiddenWidth: 6, Depth: 1, Seed: 3), CPU)) check.Load(good);
        Check.One(Config, Prop.ForAll(Mutations, mutations =>
        {
            var bytes = Apply(original, mutations);
            if (bytes.AsSpan().SequenceEqual(original)) return true;
            File.WriteAllBytes(bad, bytes);
            var load = Task.Run(() => Record.Exception(() => student.Load(bad)));
            if (!load.Wait(TimeSpan.FromSeconds(30))) return false;
            return load.Result is CheckpointException e && e.Message.Contains(bad) && e.Message.Length < 2000 && Snapshot(student).SequenceEqual(before, ByteArrays);
        }));
    }

    [Fact]
    public void Mutated_training_checkpoints_never_change_the_run()
    {
        string dir = TempDir();
        string good = Path.Combine(dir, "good.ckpt");
        TrainingScenario.SaveAfter("trdpo", 3, good);
        var original = File.ReadAllBytes(good);
        using var target = TrainingScenario.Create("trdpo");
        target.Optimizer.Step(target.Competence, target.Conformity);
        string before = Path.Combine(dir, "before.ckpt");
        target.Save(before);
        var expected = File.ReadAllBytes(before);
        string bad = Path.Combine(dir, "mutated.ckpt");
        string now = Path.Combine(dir, "now.ckpt");
        Check.One(Config.WithMaxTest(Math.Max(1, Cases / 3)), Prop.ForAll(Mutations, mutations =>
        {
            var bytes = Apply(original, mutations);
            if (bytes.AsSpan().SequenceEqual(original)) return true;
            File.WriteAllBytes(bad, bytes);
            var e = Record.Exception(() => target.Load(bad));
            target.Save(now);
            return e is CheckpointException && File.ReadAllBytes(now).AsSpan().SequenceEqual(expected);
        }));
    }

    private static readonly IEqualityComparer<byte[]> ByteArrays = EqualityComparer<byte[]>.Create((a, b) => a!.AsSpan().SequenceEqual(b), a => a.Length);
}
