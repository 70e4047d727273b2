using System.Diagnostics;
using System.Text;
using Superalign.Data;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Data;

/// <summary>
/// Regression tests for the measured failures of the data readers (issue 14): each input here was accepted wrongly,
/// crashed with a raw exception, hung, or produced an unbounded message before the readers were hardened.
/// </summary>
public sealed class DataFileHardeningTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("superalign-hardening-").FullName;

    private string Write(string name, string text) => WriteBytes(name, Encoding.UTF8.GetBytes(text));

    private string WriteBytes(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static DataFileException CsvError(string path, long line, params string[] parts)
    {
        var error = Assert.Throws<DataFileException>(() => DataFiles.ReadClassificationCsv(path));
        AssertNames(error, path, line, parts);
        return error;
    }

    private static void AssertNames(DataFileException error, string path, long line, params string[] parts)
    {
        Assert.Equal(line, error.Line);
        Assert.StartsWith($"{path}:{line}: ", error.Message);
        foreach (var part in parts) Assert.Contains(part, error.Message);
        Assert.True(error.Message.Length < path.Length + 400, $"message of {error.Message.Length} characters");
    }

    [Theory]
    [InlineData("2147483647")] // was Classes = -2147483648
    [InlineData("4294967296")] // was Classes = 1
    [InlineData("1000000000")] // was accepted, then the student failed in native code
    [InlineData("1000000")] // the first label past the inferred cap
    public void Labels_past_the_inferred_class_cap_are_errors_naming_line_and_value(string label)
    {
        var path = Write("labels.csv", $"x,label\n1,0\n2,{label}\n");
        CsvError(path, 3, label, "1,000,000", "classes:");
    }

    [Fact]
    public void The_largest_inferred_label_is_one_below_the_cap()
    {
        using var scope = NewDisposeScope();
        var table = DataFiles.ReadClassificationCsv(Write("cap.csv", "x,label\n1,999999\n"));
        Assert.Equal(DataFiles.MaxInferredClasses, table.Classes);
    }

    [Fact]
    public void A_class_count_bounds_the_labels_and_is_the_tables_class_count()
    {
        using var scope = NewDisposeScope();
        var path = Write("classes.csv", "x,label\n1,0\n2,1\n");
        Assert.Equal(5, DataFiles.ReadClassificationCsv(path, classes: 5).Classes);
        Assert.Equal(2, DataFiles.ReadClassificationCsv(path).Classes);
        var error = Assert.Throws<DataFileException>(() => DataFiles.ReadClassificationCsv(path, classes: 1));
        AssertNames(error, path, 3, "label 1", "1 classes");
        var big = Write("big.csv", "x,label\n1,2000000\n");
        Assert.Equal(3_000_000, DataFiles.ReadClassificationCsv(big, classes: 3_000_000).Classes);
        Assert.Throws<ArgumentOutOfRangeException>(() => DataFiles.ReadClassificationCsv(path, classes: 0));
    }

    [Fact]
    public void An_escaped_lone_surrogate_in_jsonl_is_a_data_file_error()
    {
        // Was a raw InvalidOperationException from JsonElement.GetString, without file or line.
        var path = Write("surrogate.jsonl", "{\"prompt\":\"p\",\"chosen\":\"c\",\"rejected\":\"r\"}\n{\"prompt\":\"a\\ud800\",\"chosen\":\"c\",\"rejected\":\"r\"}\n");
        var error = Assert.Throws<DataFileException>(() => DataFiles.ReadPreferenceJsonl(path));
        AssertNames(error, path, 2, "field 'prompt'", "surrogate");
        // Found by the fuzz suite: a lone surrogate in another field's name threw from TryGetProperty (which compares
        // names from the last property backwards, unescaping them).
        var name = Write("surrogate-name.jsonl", "{\"prompt\":\"p\",\"chosen\":\"c\",\"rejected\":\"r\",\"reje\\ud800cted\":1}\n");
        AssertNames(Assert.Throws<DataFileException>(() => DataFiles.ReadPreferenceJsonl(name)), name, 1, "field name", "surrogate");
        // A proper pair is fine.
        var pair = Write("pair.jsonl", "{\"prompt\":\"\\ud83d\\ude00\",\"chosen\":\"c\",\"rejected\":\"r\"}\n");
        Assert.Equal("\U0001F600", DataFiles.ReadPreferenceJsonl(pair)[0].Prompt);
    }

    [Fact]
    public void Invalid_utf8_is_an_error_naming_the_line_not_a_replacement_character()
    {
        // Was silently read as U+FFFD: a column named "x\uFFFD" and a prompt "a\uFFFD".
        var csv = WriteBytes("bad-utf8.csv", [.. "x"u8, 0xFF, .. ",label\n1,0\n"u8]);
        CsvError(csv, 1, "invalid UTF-8", "byte 2", "0xFF");
        var jsonl = WriteBytes("bad-utf8.jsonl", [.. "{\"prompt\":\"p\",\"chosen\":\"c\",\"rejected\":\"r\"}\n{\"prompt\":\"a"u8, 0xC3, .. "\",\"chosen\":\"c\",\"rejected\":\"r\"}\n"u8]);
        var error = Assert.Throws<DataFileException>(() => DataFiles.ReadPreferenceJsonl(jsonl));
        AssertNames(error, jsonl, 2, "invalid UTF-8", "byte 13");
        // An encoded surrogate (CESU-8 / WTF-8 bytes ED A0 80) is not UTF-8 either.
        var wtf8 = WriteBytes("wtf8.csv", [.. "x,label\n1,0\n2,0"u8, 0xED, 0xA0, 0x80, .. "\n"u8]);
        CsvError(wtf8, 3, "invalid UTF-8");
    }

    [Fact]
    public void A_utf8_byte_order_mark_and_old_line_endings_still_read()
    {
        using var scope = NewDisposeScope();
        var table = DataFiles.ReadClassificationCsv(WriteBytes("bom.csv", [0xEF, 0xBB, 0xBF, .. "x,label\r1,0\r\n2,1\r"u8]));
        Assert.Equal(new[] { "x" }, table.FeatureNames);
        Assert.Equal(new long[] { 0, 1 }, table.Labels.data<long>().ToArray());
        var utf16 = WriteBytes("utf16.csv", Encoding.Unicode.GetPreamble().Concat(Encoding.Unicode.GetBytes("x,label\n1,0\n")).ToArray());
        CsvError(utf16, 1, "UTF-16", "UTF-8");
    }

    [Fact]
    public void Messages_quote_a_bounded_excerpt_of_a_long_field()
    {
        // A 1 MB field made a 1,000,069-character message.
        var longNumber = new string('9', 60_000) + "x";
        var path = Write("long.csv", $"x,label\n{longNumber},0\n");
        var error = CsvError(path, 2, "column 'x' has '999", "60,001 characters", "not a finite number");
        var label = Write("long-label.csv", $"x,label\n1,{longNumber}\n");
        CsvError(label, 2, "label '999", "60,001 characters");
        var header = Write("long-header.csv", $"x,{new string('h', 50_000)}\n1,0\n");
        CsvError(header, 1, "no 'label' column", "50,000 characters");
        var tooLong = Write("too-long.csv", $"x,label\n{new string('1', 70_000)},0\n");
        CsvError(tooLong, 2, "70,000 characters", "65,536");
        Assert.DoesNotContain(new string('9', 100), error.Message);
    }

    [Fact]
    public void Lines_longer_than_the_limit_are_errors_naming_the_line()
    {
        var huge = Write("huge.csv", "x,label\n1,0\n" + new string('1', DataFiles.DefaultMaxLineBytes + 1) + "\n");
        CsvError(huge, 3, "longer than 1,048,576 bytes");
        var small = Write("small.jsonl", "{\"prompt\":\"p\",\"chosen\":\"c\",\"rejected\":\"r\"}\n{\"prompt\":\"a long prompt\",\"chosen\":\"c\",\"rejected\":\"r\"}\n");
        var error = Assert.Throws<DataFileException>(() => DataFiles.ReadPreferenceJsonl(small, maxLineBytes: 45));
        AssertNames(error, small, 2, "longer than 45 bytes");
        Assert.Equal(2, DataFiles.ReadPreferenceJsonl(small).Count);
        var field = Assert.Throws<DataFileException>(() => DataFiles.ReadPreferenceJsonl(small, maxFieldChars: 5));
        AssertNames(field, small, 2, "field 'prompt' has 13 characters");
    }

    private static Task<DataFileException> WithinSeconds(int seconds, Action read) =>
        Task.Run(() => Assert.Throws<DataFileException>(read)).WaitAsync(TimeSpan.FromSeconds(seconds));

    [Fact]
    public async Task A_fifo_is_rejected_before_it_is_opened()
    {
        if (OperatingSystem.IsWindows()) return;
        var path = Path.Combine(_dir, "pipe.csv");
        using (var mkfifo = Process.Start(new ProcessStartInfo("mkfifo", [path]) { UseShellExecute = false })!)
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }
        // Was a hang: opening a FIFO blocks until a writer comes (a TimeoutException here).
        AssertNames(await WithinSeconds(30, () => DataFiles.ReadClassificationCsv(path)), path, 1, "FIFO", "not a regular file");
        AssertNames(await WithinSeconds(30, () => DataFiles.ReadPreferenceJsonl(path)), path, 1, "FIFO");
    }

    [Fact]
    public async Task Without_stat_a_fifo_is_left_unopened_as_an_empty_file()
    {
        if (OperatingSystem.IsWindows()) return;
        var path = Path.Combine(_dir, "pipe-nostat.csv");
        using (var mkfifo = Process.Start(new ProcessStartInfo("mkfifo", [path]) { UseShellExecute = false })!)
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }
        var target = Write("nostat-target.csv", "x,label\n1,0\n2,1\n");
        var link = Path.Combine(_dir, "nostat-link.csv");
        File.CreateSymbolicLink(link, target);
        var error = await Task.Run(() =>
        {
            FileTypes.SimulateNoStat = true;
            try
            {
                using var scope = NewDisposeScope();
                Assert.Equal(2, DataFiles.ReadClassificationCsv(link).Labels.shape[0]);
                return Assert.Throws<DataFileException>(() => DataFiles.ReadClassificationCsv(path));
            }
            finally
            {
                FileTypes.SimulateNoStat = false;
            }
        }).WaitAsync(TimeSpan.FromSeconds(30));
        AssertNames(error, path, 1, "empty");
    }

    [Fact]
    public async Task A_device_is_rejected_instead_of_read_without_end()
    {
        if (!File.Exists("/dev/zero")) return;
        // Was memory growing without bound: /dev/zero is an endless line.
        AssertNames(await WithinSeconds(30, () => DataFiles.ReadPreferenceJsonl("/dev/zero")), "/dev/zero", 1, "character device", "not a regular file");
    }

    [Fact]
    public void A_symbolic_link_to_a_regular_file_reads_the_whole_target()
    {
        // The reader reads up to the length the file had when opened: that must be the target's, not the link's.
        using var scope = NewDisposeScope();
        var target = Write("target.csv", "x,label\n" + string.Concat(Enumerable.Range(0, 200).Select(i => $"{i},{i % 3}\n")));
        var link = Path.Combine(_dir, "link.csv");
        File.CreateSymbolicLink(link, target);
        var table = DataFiles.ReadClassificationCsv(link);
        Assert.Equal(200, table.Labels.shape[0]);
        Assert.Equal(199f, table.Features.data<float>().ToArray()[^1]);
    }

    [Theory]
    [InlineData("label,label\n0,1\n", "'label' twice", "columns 1 and 2")]
    [InlineData("x,x,label\n0,1,0\n", "'x' twice", "columns 1 and 2")]
    [InlineData("x,,label\n1,2,0\n", "column 2 of the header has an empty name")]
    [InlineData("x, ,label\n1,2,0\n", "column 2 of the header has an empty name")]
    public void Duplicate_or_empty_header_names_are_errors_naming_the_column(string text, params string[] parts)
    {
        // Were accepted: the second 'label' became a feature, the empty name a feature called "".
        CsvError(Write("header.csv", text), 1, parts);
    }

    [Fact]
    public void Columns_can_be_ignored_or_chosen_and_unknown_names_are_errors()
    {
        using var scope = NewDisposeScope();
        var path = Write("id.csv", "id,x,label,y\nrow-a,1,0,10\nrow-b,2,1,20\n");
        CsvError(path, 2, "column 'id' has 'row-a'");
        var ignored = DataFiles.ReadClassificationCsv(path, ignoreColumns: ["id"]);
        Assert.Equal(new[] { "x", "y" }, ignored.FeatureNames);
        Assert.Equal(new[] { 1f, 10f, 2f, 20f }, ignored.Features.data<float>().ToArray());
        var chosen = DataFiles.ReadClassificationCsv(path, featureColumns: ["y", "x"]);
        Assert.Equal(new[] { "y", "x" }, chosen.FeatureNames);
        Assert.Equal(new[] { 10f, 1f, 20f, 2f }, chosen.Features.data<float>().ToArray());
        AssertNames(Assert.Throws<DataFileException>(() => DataFiles.ReadClassificationCsv(path, ignoreColumns: ["id", "nope"])), path, 1, "ignored column 'nope' not in the header");
        AssertNames(Assert.Throws<DataFileException>(() => DataFiles.ReadClassificationCsv(path, featureColumns: ["x", "z", "w"])), path, 1, "feature columns 'z', 'w' not in the header");
        AssertNames(Assert.Throws<DataFileException>(() => DataFiles.ReadClassificationCsv(path, ignoreColumns: ["id", "x", "y"])), path, 1, "no feature column is left");
        Assert.Throws<ArgumentException>(() => DataFiles.ReadClassificationCsv(path, featureColumns: ["x"], ignoreColumns: ["x"]));
        Assert.Throws<ArgumentException>(() => DataFiles.ReadClassificationCsv(path, featureColumns: ["label"]));
        Assert.Throws<ArgumentException>(() => DataFiles.ReadClassificationCsv(path, featureColumns: []));
    }
}
