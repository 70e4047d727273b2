using Superalign.Data;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Data;

public sealed class DataFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("superalign-data-").FullName;

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Csv_reads_features_labels_and_names_with_the_label_anywhere()
    {
        using var scope = NewDisposeScope();
        var path = Write("ok.csv", "x0,label,x1\n0.5,1,-2\n\n1e-3,0,3.25\r\n7,2,0\n");
        var table = DataFiles.ReadClassificationCsv(path);
        Assert.Equal(new long[] { 3, 2 }, table.Features.shape);
        Assert.Equal(new[] { 0.5f, -2f, 1e-3f, 3.25f, 7f, 0f }, table.Features.data<float>().ToArray());
        Assert.Equal(new long[] { 1, 0, 2 }, table.Labels.data<long>().ToArray());
        Assert.Equal(new[] { "x0", "x1" }, table.FeatureNames);
        Assert.Equal(3, table.Classes);
        Assert.Equal(3, table.ToDataset().Count);
    }

    [Theory]
    [InlineData("x0,label\n1,0\n2\n", 3, "expected 2 fields")]
    [InlineData("x0,label\n1,0\nabc,1\n", 3, "column 'x0' has 'abc'")]
    [InlineData("x0,label\n1,0\n\n2,-1\n", 4, "label '-1'")]
    [InlineData("x0,label\n1,0.5\n", 2, "label '0.5'")]
    [InlineData("x0,y\n1,0\n", 1, "no 'label' column")]
    [InlineData("x0,label\n", 1, "no rows")]
    [InlineData("", 1, "empty")]
    [InlineData("x0,label\n\"1\",0\n", 2, "quoted")]
    [InlineData("x0,label\nNaN,0\n", 2, "finite")]
    public void Csv_errors_name_the_file_and_line(string text, long line, string problem)
    {
        var path = Write("bad.csv", text);
        var error = Assert.Throws<DataFileException>(() => DataFiles.ReadClassificationCsv(path));
        Assert.Equal(line, error.Line);
        Assert.StartsWith($"{path}:{line}: ", error.Message);
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public void Jsonl_reads_trl_preference_records_and_ignores_extra_fields()
    {
        var path = Write("ok.jsonl", "{\"prompt\":\"2+2?\",\"chosen\":\"4\",\"rejected\":\"5\",\"id\":7}\n\n{\"prompt\":\"\",\"chosen\":\"a\\nb\",\"rejected\":\"c\"}\n");
        var records = DataFiles.ReadPreferenceJsonl(path);
        Assert.Equal(new[] { new PreferenceRecord("2+2?", "4", "5", path, 1), new PreferenceRecord("", "a\nb", "c", path, 3) }, records);
        Assert.Equal($"{path}:3", records[1].Location);
    }

    [Theory]
    [InlineData("{\"prompt\":\"p\",\"chosen\":\"c\",\"rejected\":\"r\"}\n{\"prompt\":\"p\",\"chosen\":\"c\"\n", 2, "not valid JSON")]
    [InlineData("{\"prompt\":\"p\",\"chosen\":\"c\"}\n", 1, "missing field 'rejected'")]
    [InlineData("\n\n{\"prompt\":1,\"chosen\":\"c\",\"rejected\":\"r\"}\n", 3, "field 'prompt' must be a string")]
    [InlineData("[1,2]\n", 1, "expected a JSON object")]
    [InlineData("\n", 1, "no records")]
    public void Jsonl_errors_name_the_file_and_line(string text, long line, string problem)
    {
        var path = Write("bad.jsonl", text);
        var error = Assert.Throws<DataFileException>(() => DataFiles.ReadPreferenceJsonl(path));
        Assert.Equal(line, error.Line);
        Assert.StartsWith($"{path}:{line}: ", error.Message);
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public void Missing_files_say_where_they_were_looked_for()
    {
        var path = Path.Combine(_dir, "nope.csv");
        Assert.Contains(path, Assert.Throws<FileNotFoundException>(() => DataFiles.ReadClassificationCsv(path)).Message);
        Assert.Contains(path, Assert.Throws<FileNotFoundException>(() => DataFiles.ReadPreferenceJsonl(path)).Message);
    }
}
