using Superalign.Checkpoints;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Checkpoints;

/// <summary>Helpers of the checkpoint tests: temporary directories, raw layouts and entry-by-entry comparison.</summary>
internal static class CheckpointTestSupport
{
    /// <summary>A fresh directory under the system temp folder.</summary>
    public static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "superalign-ckpt-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>
    /// The byte offsets where a file's regions begin and end: prefix, header, header hash, each data entry, trailer —
    /// the boundaries a truncation test cuts at. Computed from the layout description, independently of the reader.
    /// </summary>
    public static IReadOnlyList<long> Boundaries(byte[] file)
    {
        long headerLength = BitConverter.ToInt64(file, 16);
        using var doc = System.Text.Json.JsonDocument.Parse(file.AsMemory(24, (int)headerLength));
        var cuts = new List<long> { 0, 8, 12, 16, 24, 24 + headerLength, 24 + headerLength + 32 };
        long dataStart = 24 + headerLength + 32;
        foreach (var e in doc.RootElement.GetProperty("entries").EnumerateArray())
            if (e.TryGetProperty("offset", out var offset)) cuts.Add(dataStart + offset.GetInt64() + e.GetProperty("length").GetInt64());
        cuts.Add(file.Length - 16);
        cuts.Add(file.Length - 8);
        return cuts.Where(c => c < file.Length).Distinct().Order().ToList();
    }

    /// <summary>Asserts two checkpoints hold the same entries, bit for bit, apart from keys <paramref name="ignore"/> accepts.</summary>
    public static void AssertSameState(string expectedPath, string actualPath, Func<string, bool>? ignore = null)
    {
        var a = Checkpoint.Read(expectedPath).AllEntries;
        var b = Checkpoint.Read(actualPath).AllEntries;
        ignore ??= _ => false;
        Assert.Equal(a.Keys.Where(k => !ignore(k)).Order(), b.Keys.Where(k => !ignore(k)).Order());
        foreach (var key in a.Keys.Where(k => !ignore(k)))
        {
            var (x, y) = (a[key], b[key]);
            Assert.True(x.Kind == y.Kind && x.DType == y.DType && x.Shape.SequenceEqual(y.Shape) && x.Bits == y.Bits && x.Data.AsSpan().SequenceEqual(y.Data),
                $"'{key}' differs between {expectedPath} and {actualPath}.");
        }
    }

    /// <summary>Timing keys, the only state allowed to differ between two runs.</summary>
    public static bool IsTiming(string key) => key.EndsWith("-seconds", StringComparison.Ordinal);

    /// <summary>Every parameter and buffer of a student, as raw bytes per tensor, for bitwise comparisons.</summary>
    public static List<byte[]> Snapshot(Superalign.Students.TorchStudent student) =>
        student.Module.state_dict().Values.Select(t => t.detach().cpu().contiguous().bytes.ToArray()).ToList();
}
