using Superalign.Data;
using Superalign.Tests.Infrastructure;
using Xunit;

namespace Superalign.Tests.Data;

/// <summary>The SFT reader: TRL's prompt-completion JSONL, with file:line errors.</summary>
public sealed class SftJsonlTests : IDisposable
{
    private readonly TempJsonlFiles _files = new("superalign-sft-");

    public void Dispose() => _files.Dispose();

    [Fact]
    public void Rows_are_read_with_their_file_and_line_and_extra_fields_and_blank_lines_are_ignored()
    {
        var path = _files.Write("{\"prompt\": \"2+2=\", \"completion\": \"4\", \"id\": 7}", "", "{\"completion\": \"\", \"prompt\": \"é\\n\"}");
        var rows = DataFiles.ReadSftJsonl(path);
        Assert.Equal([new SftRecord("2+2=", "4", path, 1), new SftRecord("é\n", "", path, 3)], rows);
        Assert.Equal($"{path}:3", rows[1].Location);
    }

    [Theory]
    [InlineData("{\"prompt\": \"a\"}", "missing field 'completion'")]
    [InlineData("{\"prompt\": \"a\", \"completion\": 4}", "field 'completion' must be a string")]
    [InlineData("[1, 2]", "expected a JSON object")]
    [InlineData("{\"prompt\": \"a\", ", "not valid JSON")]
    public void A_bad_row_names_its_file_and_line(string bad, string problem)
    {
        var path = _files.Write("{\"prompt\": \"a\", \"completion\": \"b\"}", bad);
        var error = Assert.Throws<DataFileException>(() => DataFiles.ReadSftJsonl(path));
        Assert.StartsWith($"{path}:2: ", error.Message);
        Assert.Contains(problem, error.Message);
        Assert.Equal(2, error.Line);
    }

    [Fact]
    public void An_empty_or_missing_file_is_an_error()
    {
        Assert.Contains("no records", Assert.Throws<DataFileException>(() => DataFiles.ReadSftJsonl(_files.Write("", " "))).Message);
        Assert.Throws<FileNotFoundException>(() => DataFiles.ReadSftJsonl(Path.Combine(_files.Directory, "none.jsonl")));
        // The preference reader shares the code and still names TRL's preference fields.
        Assert.Contains("prompt, chosen, rejected", Assert.Throws<DataFileException>(() => DataFiles.ReadPreferenceJsonl(_files.Write("{\"prompt\": \"a\"}"))).Message);
    }
}
