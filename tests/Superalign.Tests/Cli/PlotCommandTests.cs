using Superalign.Cli;
using Superalign.Experiments.Metrics;
using Superalign.Experiments.Protocols;
using Superalign.Tests.Experiments;
using Xunit;

namespace Superalign.Tests.Cli;

/// <summary><c>superalign plot</c>, in process: charts from a result.json or a run directory, formats, bad input.</summary>
public sealed class PlotCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        int code = CommandLine.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>A sandwiching result as a run writes it, made by hand (no training).</summary>
    private static void WriteResult(string path)
    {
        static SummaryStatistics S(double mean) => new(mean, 0.02, mean - 0.05, mean + 0.05, 0.95, 3, IntervalMethod.StudentT);
        var result = new SandwichingResult(new SandwichingOptions { Seeds = [0, 1, 2] }, [], S(0.5), S(0.55), S(0.98), S(0.97),
            new BootstrapInterval(0.48, 0.4, 0.55, 0.95, 100), new BootstrapInterval(0.43, 0.35, 0.5, 0.95, 100), 300, 100, 300, [0, 1, 2], 1.0);
        ProtocolJson.Write(result, path);
    }

    [Fact]
    public void Plot_draws_the_charts_of_a_run_directory_next_to_its_result()
    {
        using var dir = new ResumeTestKit.TempDirectory();
        WriteResult(Path.Combine(dir.Path, "result.json"));
        var (code, output, error) = Run("plot", dir.Path);
        Assert.True(code == 0, error);
        string[] expected = [Path.Combine(dir.Path, "judge-accuracy.png"), Path.Combine(dir.Path, "judge-accuracy.svg")];
        Assert.Equal(expected, Lines(output));
        Assert.All(expected, path => Assert.True(new FileInfo(path).Length > 1000, path));
    }

    [Fact]
    public void Plot_of_a_file_writes_the_formats_asked_for_into_out()
    {
        using var dir = new ResumeTestKit.TempDirectory();
        string result = Path.Combine(dir.Path, "some-result.json"), charts = Path.Combine(dir.Path, "charts");
        WriteResult(result);
        var (code, output, error) = Run("plot", result, "--out", charts, "--format", "svg");
        Assert.True(code == 0, error);
        Assert.Equal([Path.Combine(charts, "judge-accuracy.svg")], Lines(output));
        Assert.Equal(["judge-accuracy.svg"], Directory.GetFiles(charts).Select(f => Path.GetFileName(f)!).ToArray());
    }

    [Fact]
    public void Bad_input_exits_2_with_one_line_naming_the_problem()
    {
        using var dir = new ResumeTestKit.TempDirectory();
        string missing = Path.Combine(dir.Path, "nothing.json"), notJson = Path.Combine(dir.Path, "bad.json"), other = Path.Combine(dir.Path, "other.json");
        File.WriteAllText(notJson, "{ not json");
        File.WriteAllText(other, """{ "seeds": [1], "accuracy": 0.5 }""");
        WriteResult(Path.Combine(dir.Path, "result.json"));
        foreach (var (args, mentions) in new (string[], string)[]
        {
            (["plot", missing], missing),
            (["plot", Path.Combine(dir.Path, "empty-dir-that-is-not-there")], "does not exist"),
            (["plot", notJson], "is not valid JSON"),
            (["plot", other], "is not a protocol result"),
            (["plot", dir.Path, "--format", "gif"], "--format gif"),
            (["plot", dir.Path, "--width", "20"], "--width"),
        })
        {
            var (code, output, error) = Run(args);
            Assert.Equal(CommandLine.BadInput, code);
            Assert.Equal("", output);
            var line = Assert.Single(Lines(error));
            Assert.Contains(mentions, line);
            Assert.StartsWith("superalign: ", line);
        }
    }
}
