using System.Diagnostics;
using System.Globalization;
using System.Runtime.ExceptionServices;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Superalign.Data;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Superalign.Tests.Data;

/// <summary>
/// Fuzzing of the data readers and the tokenizer (issue 14): valid CSV and JSONL files with random mutations (bit
/// flips, truncation, deletions, duplicated spans, inserted quotes, commas, line breaks, escapes, lone surrogates,
/// invalid UTF-8, huge numbers, empty and very long fields). Every case must either read into a table or records that
/// satisfy the invariants, or fail with a <see cref="DataFileException"/> whose message names the file and a line of it
/// and stays short; nothing else may escape, each case must finish within <see cref="CaseTimeout"/>, and its
/// allocations stay within a bound proportional to its input. The number of cases per property is
/// <c>SUPERALIGN_FUZZ_CASES</c> (default <see cref="DefaultCases"/>); see docs/reliability.md.
/// </summary>
public sealed class DataFileFuzzTests : IDisposable
{
    /// <summary>Cases per property in the normal test run.</summary>
    public const int DefaultCases = 250;

    /// <summary>The longest a case may take (generous: the test machine may be shared).</summary>
    private static readonly TimeSpan CaseTimeout = TimeSpan.FromSeconds(20);

    /// <summary>The longest message accepted, beyond the path.</summary>
    private const int MaxMessage = 1000;

    private readonly string _dir = Directory.CreateTempSubdirectory("superalign-fuzz-").FullName;
    private readonly ITestOutputHelper _output;

    public DataFileFuzzTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static int Cases =>
        int.TryParse(Environment.GetEnvironmentVariable("SUPERALIGN_FUZZ_CASES"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n > 0
            ? n
            : DefaultCases;

    /// <summary>One edit of a file's bytes; positions wrap around the file's length.</summary>
    public sealed record Mutation(int Kind, int Position, int Payload)
    {
        public override string ToString() => $"({Kind}, {Position}, {Payload})";
    }

    /// <summary>A base file (from <see cref="Seed"/>), read options (from <see cref="Options"/>) and the edits.</summary>
    public sealed record FuzzCase(int Seed, int Options, Mutation[] Mutations)
    {
        public override string ToString() => $"seed {Seed}, options {Options}, mutations [{string.Join(", ", Mutations.AsEnumerable())}]";
    }

    private const int MutationKinds = 8;

    private static readonly Gen<Mutation> Mutations =
        from kind in Gen.Choose(0, MutationKinds - 1)
        from position in Gen.Choose(0, 1_000_000_000)
        from payload in Gen.Choose(0, 1_000_000)
        select new Mutation(kind, position, payload);

    private static readonly Arbitrary<FuzzCase> FuzzCases =
        (from seed in Gen.Choose(0, 1_000_000_000)
         from options in Gen.Choose(0, 99)
         from count in Gen.Frequency((1, Gen.Constant(0)), (6, Gen.Choose(1, 3)), (2, Gen.Choose(4, 8)))
         from mutations in Mutations.ArrayOf(count)
         select new FuzzCase(seed, options, mutations)).ToArbitrary();

    private static readonly byte[][] Tokens =
    [
        .. new[]
        {
            "\"", ",", ",,", "\n", "\r", "\r\n", "\n\n", " ", "\t", "{", "}", "[", "]", ":", "\\", "\\\\",
            "\\ud800", "\\udc00", "\\ud83d\\ude00", "\\u", "\\u00", "\\x41", "\\n", "2147483647", "4294967296",
            "9223372036854775808", "1e9", "1000000000", "999999", "1000000", "1e39", "-1e39", "-1", "-0", "+3", "NaN",
            "Infinity", "0x10", "1,5", "99999999999999999999999999999999", "0.5", "", "label", "prompt", "chosen",
            "rejected", "null", "true", "{}", "[]", "\"prompt\":\"x\"", "\u00e9", "\u2028", "\U0001F600", "\uFEFF",
        }.Select(Encoding.UTF8.GetBytes),
        [0xFF], [0xC3], [0xC3, 0x28], [0xED, 0xA0, 0x80], [0xED, 0xB0, 0x80], [0xF4, 0x90, 0x80, 0x80],
        [0xF0, 0x9F, 0x98], [0xC0, 0xAF], [0x00], [0xFF, 0xFE], [0xFE, 0xFF], [0x80],
    ];

    private static byte[] Mutate(byte[] bytes, IEnumerable<Mutation> mutations)
    {
        var data = new List<byte>(bytes);
        foreach (var m in mutations)
        {
            int at = data.Count == 0 ? 0 : m.Position % (data.Count + 1);
            var token = Tokens[m.Payload % Tokens.Length];
            switch (m.Kind)
            {
                case 0 when data.Count > 0: // flip a bit
                    at = m.Position % data.Count;
                    data[at] ^= (byte)(1 << (m.Payload % 8));
                    break;
                case 1: // truncate
                    data.RemoveRange(at, data.Count - at);
                    break;
                case 2: // insert a token
                case 3:
                    data.InsertRange(at, token);
                    break;
                case 4: // delete a span
                    data.RemoveRange(at, Math.Min(1 + m.Payload % 24, data.Count - at));
                    break;
                case 5: // duplicate a span somewhere else
                    int length = Math.Min(1 + m.Payload % 64, data.Count - at);
                    var span = data.GetRange(at, length);
                    data.InsertRange((int)(m.Payload * 7919L % (data.Count + 1)), span);
                    break;
                case 6 when data.Count > 0: // replace a byte by a token
                    at = m.Position % data.Count;
                    data.RemoveAt(at);
                    data.InsertRange(at, token);
                    break;
                case 7: // a long run: a long field, number or line (now and then past the line limit)
                    int run = (m.Payload % 40) switch
                    {
                        0 => DataFiles.DefaultMaxLineBytes + 1 + m.Payload % 1000,
                        < 8 => 60_000 + m.Payload % 10_000,
                        _ => 50 + m.Payload % 500,
                    };
                    byte fill = "9a0 ,\"\\"u8[m.Payload % 7];
                    data.InsertRange(at, Enumerable.Repeat(fill, run));
                    break;
            }
        }
        return [.. data];
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static string Number(Random random) => random.Next(6) switch
    {
        0 => random.Next(-100, 100).ToString(CultureInfo.InvariantCulture),
        1 => (random.NextDouble() * 2 - 1).ToString("R", CultureInfo.InvariantCulture),
        2 => ((float)(random.NextDouble() * 1e6)).ToString("E3", CultureInfo.InvariantCulture),
        3 => "0",
        4 => (random.NextDouble() * 1e-5).ToString(CultureInfo.InvariantCulture),
        _ => random.Next(1000).ToString(CultureInfo.InvariantCulture) + ".5",
    };

    private static byte[] ValidCsv(int seed, out string[] featureNames)
    {
        var random = new Random(seed);
        int features = random.Next(1, 5), labelAt = random.Next(features + 1);
        var header = Enumerable.Range(0, features).Select(i => $"x{i}").ToList();
        header.Insert(labelAt, "label");
        if (random.Next(3) == 0) header.Insert(random.Next(header.Count + 1), "id");
        featureNames = [.. header.Where(h => h.StartsWith('x'))];
        string newline = random.Next(3) switch { 0 => "\r\n", 1 => "\r", _ => "\n" };
        var text = new StringBuilder(string.Join(",", header)).Append(newline);
        int rows = random.Next(1, 25);
        for (int r = 0; r < rows; r++)
        {
            text.Append(string.Join(",", header.Select(h => h switch
            {
                "label" => random.Next(4).ToString(CultureInfo.InvariantCulture),
                "id" => random.Next(3) == 0 ? "row" + r : (r * 10).ToString(CultureInfo.InvariantCulture),
                _ => Number(random),
            }))).Append(newline);
            if (random.Next(10) == 0) text.Append(newline);
        }
        var bytes = Encoding.UTF8.GetBytes(text.ToString());
        return random.Next(8) == 0 ? [0xEF, 0xBB, 0xBF, .. bytes] : bytes;
    }

    private static readonly string[] Pieces =
    [
        "a", "b", "12", "+", "=", " ", "é", "\u00e9t\u00e9", "\U0001F600", "\\n", "\\t", "\\\"", "\\\\", "\\u00e9",
        "\\ud83d\\ude00", "\\u2028", "x y", "?", "42", "",
    ];

    private static string JsonString(Random random)
    {
        var text = new StringBuilder("\"");
        int pieces = random.Next(0, 8);
        for (int i = 0; i < pieces; i++) text.Append(Pieces[random.Next(Pieces.Length)]);
        return text.Append('"').ToString();
    }

    private static byte[] ValidJsonl(int seed)
    {
        var random = new Random(seed);
        var text = new StringBuilder();
        int records = random.Next(1, 12);
        for (int r = 0; r < records; r++)
        {
            var fields = new List<string>
            {
                $"\"prompt\":{JsonString(random)}",
                $"\"chosen\":{JsonString(random)}",
                $"\"rejected\":{JsonString(random)}",
            };
            if (random.Next(3) == 0) fields.Add($"\"id\":{random.Next(1000)}");
            if (random.Next(5) == 0) fields.Add("\"meta\":{\"tags\":[1,2,{\"x\":null}],\"ok\":true}");
            fields = [.. fields.OrderBy(_ => random.Next())];
            text.Append('{').Append(string.Join(random.Next(2) == 0 ? "," : ", ", fields)).Append('}');
            text.Append(random.Next(4) == 0 ? "\r\n" : "\n");
            if (random.Next(8) == 0) text.Append('\n');
        }
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary>The number of lines in <paramref name="bytes"/> as the readers count them (\n, \r\n, \r), plus one.</summary>
    private static long LineBound(byte[] bytes)
    {
        long lines = 1;
        for (int i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] == '\n' || (bytes[i] == '\r' && (i + 1 == bytes.Length || bytes[i + 1] != '\n'))) lines++;
        }
        return lines;
    }

    private static void AssertGoodError(DataFileException error, string path, byte[] bytes)
    {
        Assert.Equal(path, error.Path);
        Assert.InRange(error.Line, 1, LineBound(bytes));
        Assert.StartsWith($"{path}:{error.Line}: ", error.Message);
        Assert.True(error.Message.Length < path.Length + MaxMessage, $"a message of {error.Message.Length:N0} characters: {error.Message[..Math.Min(300, error.Message.Length)]}");
    }

    /// <summary>
    /// Runs <paramref name="check"/> on a worker thread and fails if it takes longer than <see cref="CaseTimeout"/> or
    /// allocates more than <paramref name="allocationBound"/> bytes; returns the time it took.
    /// </summary>
    private static TimeSpan Bounded(FuzzCase fuzz, long allocationBound, Action check)
    {
        var clock = Stopwatch.StartNew();
        long allocated = 0;
        var task = Task.Run(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                check();
            }
            finally
            {
                allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            }
        });
        bool finished;
        try
        {
            finished = task.Wait(CaseTimeout);
        }
        catch (AggregateException e) when (e.InnerExceptions.Count == 1)
        {
            ExceptionDispatchInfo.Throw(e.InnerExceptions[0]);
            throw;
        }
        if (!finished) Assert.Fail($"case {fuzz} took longer than {CaseTimeout.TotalSeconds} s");
        Assert.True(allocated <= allocationBound, $"case {fuzz} allocated {allocated:N0} bytes, more than {allocationBound:N0}");
        return clock.Elapsed;
    }

    private int _read, _rejected;

    private void Run(string name, Action<FuzzCase> property)
    {
        var clock = Stopwatch.StartNew();
        int cases = Cases;
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(cases).WithQuietOnSuccess(true), Prop.ForAll(FuzzCases, property));
        _output.WriteLine($"{name}: {cases:N0} cases passed in {clock.Elapsed.TotalSeconds:F1} s ({_read:N0} read, {_rejected:N0} rejected with a DataFileException).");
    }

    [Fact]
    public void Fuzz_csv_reads_satisfy_the_invariants_or_fail_with_a_located_bounded_error()
    {
        var path = Path.Combine(_dir, "fuzz.csv");
        Run("CSV", fuzz =>
        {
            var bytes = Mutate(ValidCsv(fuzz.Seed, out var names), fuzz.Mutations);
            File.WriteAllBytes(path, bytes);
            int? classes = fuzz.Options % 4 == 0 ? 1 + fuzz.Options % 7 : null;
            string[]? ignore = fuzz.Options % 5 == 1 ? ["id"] : null;
            string[]? chosen = fuzz.Options % 5 == 2 ? [names[^1]] : null;
            Bounded(fuzz, 64L * 1024 * 1024 + 64L * bytes.Length, () =>
            {
                using var scope = NewDisposeScope();
                ClassificationTable table;
                try
                {
                    table = DataFiles.ReadClassificationCsv(path, classes: classes, featureColumns: chosen, ignoreColumns: ignore);
                }
                catch (DataFileException error)
                {
                    AssertGoodError(error, path, bytes);
                    Interlocked.Increment(ref _rejected);
                    return;
                }
                Interlocked.Increment(ref _read);
                long n = table.Labels.shape[0];
                int f = table.FeatureNames.Count;
                Assert.True(n >= 1 && f >= 1, $"an empty table [{n}, {f}]");
                Assert.Equal(new[] { n, (long)f }, table.Features.shape);
                Assert.Equal(1, table.Labels.dim());
                Assert.InRange(table.Classes, 1, classes ?? DataFiles.MaxInferredClasses);
                if (classes is { } k) Assert.Equal(k, table.Classes);
                Assert.All(table.Labels.data<long>().ToArray(), label => Assert.InRange(label, 0, table.Classes - 1));
                Assert.All(table.Features.data<float>().ToArray(), value => Assert.True(float.IsFinite(value)));
                Assert.Equal(f, table.FeatureNames.Distinct().Count());
                Assert.DoesNotContain("label", table.FeatureNames);
            });
        });
    }

    [Fact]
    public void Fuzz_jsonl_reads_and_their_encoding_satisfy_the_invariants_or_fail_with_a_located_bounded_error()
    {
        var path = Path.Combine(_dir, "fuzz.jsonl");
        Run("JSONL", fuzz =>
        {
            var bytes = Mutate(ValidJsonl(fuzz.Seed), fuzz.Mutations);
            File.WriteAllBytes(path, bytes);
            var limits = new EncodingLimits { MaxLength = 64 + fuzz.Options * 40, MaxElements = 20_000 + fuzz.Options * 5_000L };
            Bounded(fuzz, 64L * 1024 * 1024 + 64L * bytes.Length, () =>
            {
                IReadOnlyList<PreferenceRecord> records;
                try
                {
                    records = DataFiles.ReadPreferenceJsonl(path);
                }
                catch (DataFileException error)
                {
                    AssertGoodError(error, path, bytes);
                    Interlocked.Increment(ref _rejected);
                    return;
                }
                Interlocked.Increment(ref _read);
                Assert.NotEmpty(records);
                long bound = LineBound(bytes), previous = 0;
                foreach (var record in records)
                {
                    Assert.Equal(path, record.Source);
                    Assert.InRange(record.Line, previous + 1, bound);
                    previous = record.Line;
                    // Valid Unicode (no lone surrogate): a strict encoder takes every string.
                    foreach (var text in new[] { record.Prompt, record.Chosen, record.Rejected })
                        Assert.True(StrictUtf8.GetByteCount(text) >= text.Length);
                }
                // The tokenizer on whatever was read: a dataset of the right shape or an ArgumentException, bounded.
                using var scope = NewDisposeScope();
                try
                {
                    var tokenizer = CharacterTokenizer.FromRecords(records);
                    var data = tokenizer.ToPreferenceDataset(records, limits: limits);
                    Assert.Equal(records.Count, data.Count);
                    Assert.InRange(data.Pairs.Chosen.Inputs.shape[1], 1, limits.MaxLength - 1);
                    Assert.Equal(data.Pairs.Chosen.Inputs.shape, data.Pairs.Rejected.Inputs.shape);
                }
                catch (ArgumentException error)
                {
                    Assert.True(error.Message.Length < MaxMessage + path.Length, $"a message of {error.Message.Length:N0} characters");
                }
            });
        });
    }

    [Fact]
    public void The_mutations_reach_both_outcomes()
    {
        // Guards the fuzzer itself: with these generators some cases read and some fail (else the properties above
        // would test one path only).
        var path = Path.Combine(_dir, "mix.csv");
        var random = new Random(7);
        int read = 0, failed = 0;
        for (int i = 0; i < 60; i++)
        {
            var mutations = Enumerable.Range(0, random.Next(3)).Select(_ => new Mutation(random.Next(MutationKinds), random.Next(), random.Next(1_000))).ToArray();
            File.WriteAllBytes(path, Mutate(ValidCsv(i, out _), mutations));
            using var scope = NewDisposeScope();
            try
            {
                DataFiles.ReadClassificationCsv(path);
                read++;
            }
            catch (DataFileException)
            {
                failed++;
            }
        }
        Assert.True(read >= 5 && failed >= 5, $"{read} read, {failed} failed");
    }
}
