using System.Text.Json.Nodes;
using Superalign.Cli;
using Superalign.Cli.Reports.Markdown;
using Superalign.Experiments.Protocols;
using Xunit;

namespace Superalign.Tests.Docs;

/// <summary>
/// docs/results.md's generated tables: every block between <c>&lt;!-- table: docs/results/&lt;name&gt;/result.json --&gt;</c>
/// and <c>&lt;!-- end table --&gt;</c> is what <c>superalign tables</c> prints for that committed result, and the commands
/// shown above it are the ones that regenerate it (the run's options are the result's). After a rerun:
/// <c>superalign tables --update docs/results.md</c>.
/// </summary>
public sealed class ResultsDocTests
{
    private static string ResultsMd => Path.Combine(ReadmeTests.RepoRoot(), "docs", "results.md");

    [Fact]
    public void Every_table_block_equals_the_tables_command_output_for_its_committed_result()
    {
        var blocks = ResultBlocks.Find(File.ReadAllText(ResultsMd), "docs/results.md");
        // Sandwiching, self-enhancement, gap annealing and diversified supervision at least.
        Assert.True(blocks.Count >= 4, $"docs/results.md has {blocks.Count} table blocks");
        foreach (var block in blocks)
            Assert.Matches("^docs/results/[a-z0-9-]+/result\\.json$", block.ResultPath);
        var problems = ResultBlocks.Check(ResultsMd);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void Every_block_is_preceded_by_the_commands_that_regenerate_it()
    {
        var text = File.ReadAllText(ResultsMd).Replace("\r\n", "\n");
        var lines = text.Split('\n');
        int previousEnd = 0;
        foreach (var block in ResultBlocks.Find(text, "docs/results.md"))
        {
            string where = $"docs/results.md:{block.StartLine} ({block.ResultPath})";
            var above = lines[previousEnd..(block.StartLine - 1)];
            previousEnd = block.EndLine;
            Assert.True(above.Any(l => l.Trim() == $"superalign tables {block.ResultPath}"), $"{where}: no `superalign tables {block.ResultPath}` line above the block");
            string directory = block.ResultPath[..^"/result.json".Length];
            var run = above.Select(l => l.Split('#')[0].Trim()).LastOrDefault(l => l.StartsWith("superalign run ", StringComparison.Ordinal) && l.EndsWith($"--out {directory}", StringComparison.Ordinal));
            Assert.True(run is not null, $"{where}: no `superalign run … --out {directory}` line above the block");

            // The options that command makes are the options the committed result was run with.
            var args = run!.Split(' ', StringSplitOptions.RemoveEmptyEntries)[2..^2].Select(a => a.Trim('\'')).ToList();
            var entry = ProtocolCatalog.Find(args[0]);
            string? seeds = null, config = null;
            var settings = new List<string>();
            for (int i = 1; i < args.Count; i += 2)
            {
                if (args[i] == "--seeds") seeds = args[i + 1];
                else if (args[i] == "--set") settings.Add(args[i + 1]);
                else if (args[i] == "--config") config = Path.Combine(ReadmeTests.RepoRoot(), args[i + 1]);
                else if (args[i] is not ("--threads" or "--jobs")) Assert.Fail($"{where}: the test reads --config, --seeds, --set, --threads and --jobs only; got {args[i]}");
            }
            var options = CommandLine.Options(entry, config, settings, seeds);
            var result = JsonNode.Parse(File.ReadAllText(Path.Combine(ReadmeTests.RepoRoot(), block.ResultPath)))!;
            Assert.True(JsonNode.DeepEquals(JsonNode.Parse(ProtocolJson.Serialize(options)), result["options"]),
                $"{where}: `{run}` makes other options than the result's:\n{ProtocolJson.Serialize(options)}\nresult: {result["options"]!.ToJsonString()}");
            Assert.NotNull(ResultProvenance.Read(Path.Combine(ReadmeTests.RepoRoot(), block.ResultPath)));
        }
    }
}
