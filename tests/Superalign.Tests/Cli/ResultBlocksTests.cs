using Superalign.Cli.Reports.Markdown;
using Superalign.Experiments.Protocols;
using Superalign.Tests.Experiments;
using Xunit;

namespace Superalign.Tests.Cli;

/// <summary>
/// The marked table blocks of a markdown file: found with their lines, checked against <c>superalign tables</c>
/// (a stale block is named with its first differing line), rewritten by <c>--update</c> leaving the rest of the file
/// as it was, and malformed markers refused with their line.
/// </summary>
public sealed class ResultBlocksTests
{
    private static string TinySandwichingResult(string directory)
    {
        var result = ProtocolCatalog.Find(Sandwiching.ProtocolName).Create(ResumeTestKit.TinyOptions(Sandwiching.ProtocolName)).Run();
        string file = Path.Combine(directory, "results", "tiny", "result.json");
        ProtocolJson.Write((object)result, file, ResultProvenance.ForProcess(["seed-1", "seed-2"]));
        return file;
    }

    [Fact]
    public void A_stale_block_is_named_with_its_first_differing_line_and_update_rewrites_only_the_blocks()
    {
        using var dir = new ResumeTestKit.TempDirectory();
        TinySandwichingResult(dir.Path);
        string md = Path.Combine(dir.Path, "docs", "results.md");
        Directory.CreateDirectory(Path.GetDirectoryName(md)!);
        string before = "# Results\n\nProse before.\n\n```bash\nsuperalign tables results/tiny/result.json\n```\n\n";
        string after = "\nProse after, kept.\n";
        File.WriteAllText(md, before + "<!-- table: results/tiny/result.json -->\n| old | table |\n|---|---|\n<!-- end table -->\n" + after);

        var problems = ResultBlocks.Check(md);
        string problem = Assert.Single(problems);
        Assert.Contains($"{md}:9: the block of results/tiny/result.json", problem);
        Assert.Contains("first difference at line 10", problem);
        Assert.Contains("found \"| old | table |\"", problem);
        Assert.Contains("expected \"| condition | accuracy, mean over 2 seeds | 95% t interval |\"", problem);
        var check = CommandLineTests.Run("tables", "--check", md);
        Assert.Equal(Superalign.Cli.TablesCommand.OutOfDate, check.Code);
        Assert.Contains("results/tiny/result.json", check.Err);

        var update = CommandLineTests.Run("tables", "--update", md);
        Assert.True(update.Code == 0, update.Err);
        Assert.Contains("1 of 1 table blocks rewritten", update.Out);
        Assert.Empty(ResultBlocks.Check(md));
        string text = File.ReadAllText(md);
        Assert.StartsWith(before, text);
        Assert.EndsWith("<!-- end table -->\n" + after, text);
        string generated = CommandLineTests.Run("tables", Path.Combine(dir.Path, "results", "tiny", "result.json")).Out;
        Assert.Contains(generated.TrimEnd('\n'), text);
        // A second update changes nothing.
        Assert.Equal(0, ResultBlocks.Update(md));
        Assert.Equal(0, CommandLineTests.Run("tables", "--check", md).Code);
    }

    [Theory]
    [InlineData("<!-- table: a.json -->\n| x |\n", "doc.md:1: the block for a.json has no <!-- end table -->")]
    [InlineData("text\n<!-- end table -->\n", "doc.md:2: <!-- end table --> without")]
    [InlineData("<!-- table: a.json -->\n<!-- table: b.json -->\n<!-- end table -->\n", "doc.md:2: a table marker inside the block opened at line 1")]
    [InlineData("<!-- table:  -->\n<!-- end table -->\n", "doc.md:1: expected <!-- table: <result.json path> -->")]
    public void Malformed_markers_are_refused_with_their_line(string markdown, string message)
    {
        var e = Assert.Throws<InvalidDataException>(() => ResultBlocks.Find(markdown, "doc.md"));
        Assert.StartsWith(message, e.Message);
    }

    [Fact]
    public void Blocks_are_found_with_their_lines_and_trimmed_content()
    {
        var blocks = ResultBlocks.Find("a\n<!-- table: x/result.json -->\n\n| t |\n\n<!-- end table -->\nb\n<!-- table: y/result.json -->\n<!-- end table -->\n", "doc.md");
        Assert.Equal(2, blocks.Count);
        Assert.Equal(new ResultBlock("x/result.json", 2, 6, "| t |"), blocks[0]);
        Assert.Equal(new ResultBlock("y/result.json", 8, 9, ""), blocks[1]);
    }

    [Fact]
    public void A_block_whose_result_file_is_missing_is_named()
    {
        using var dir = new ResumeTestKit.TempDirectory();
        string md = Path.Combine(dir.Path, "doc.md");
        File.WriteAllText(md, "<!-- table: nowhere/result.json -->\n<!-- end table -->\n");
        var e = Assert.Throws<FileNotFoundException>(() => ResultBlocks.Check(md));
        Assert.Contains($"{md}:1: the block's result file nowhere/result.json does not exist", e.Message);
        var run = CommandLineTests.Run("tables", "--update", md);
        Assert.Equal(Superalign.Cli.CommandLine.BadInput, run.Code);
        Assert.Contains("nowhere/result.json", run.Err);
    }
}
