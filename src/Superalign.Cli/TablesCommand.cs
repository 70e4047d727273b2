using System.CommandLine;
using Superalign.Cli.Reports.Markdown;

namespace Superalign.Cli;

/// <summary>
/// <c>superalign tables &lt;result.json&gt;</c> prints the markdown tables docs/results.md shows for a result (and the
/// line that says where it was computed); <c>--update FILE</c> rewrites the marked blocks of a markdown file from their
/// result files, <c>--check FILE</c> lists those that differ and exits 1 (<see cref="ResultBlocks"/>). Bad input is one
/// line on stderr and exit code 2, as for the other commands.
/// </summary>
public static class TablesCommand
{
    /// <summary>Exit code of <c>--check</c> when a block is out of date.</summary>
    public const int OutOfDate = 1;

    /// <summary>The <c>tables</c> command, writing tables to <paramref name="output"/> and problems to <paramref name="error"/>.</summary>
    public static Command Build(TextWriter output, TextWriter error)
    {
        var input = new Argument<string?>("result") { Description = "A result.json, or a run directory holding one.", Arity = ArgumentArity.ZeroOrOne };
        var update = new Option<string?>("--update") { Description = $"Rewrite every block between '{ResultBlocks.StartMarker}<result.json> -->' and '{ResultBlocks.EndMarker}' of this markdown file." };
        var check = new Option<string?>("--check") { Description = "List the blocks of this markdown file that differ from their result files (exit 1 if any)." };
        var tables = new Command("tables", "Print the markdown tables of a protocol result (as docs/results.md shows them), or regenerate a markdown file's table blocks.") { input, update, check };
        tables.SetAction(parse => Run(parse.GetValue(input), parse.GetValue(update), parse.GetValue(check), output, error));
        return tables;
    }

    private static int Run(string? result, string? update, string? check, TextWriter output, TextWriter error)
    {
        if ((result is null ? 0 : 1) + (update is null ? 0 : 1) + (check is null ? 0 : 1) != 1)
        {
            error.WriteLine("superalign: tables takes one of: a result.json, --update FILE.md, --check FILE.md.");
            return CommandLine.BadInput;
        }
        try
        {
            if (result is not null)
            {
                output.WriteLine(ResultBlocks.Generate(result));
                return 0;
            }
            if (update is not null)
            {
                int changed = ResultBlocks.Update(update);
                output.WriteLine($"{update}: {changed} of {ResultBlocks.Find(File.ReadAllText(update), update).Count} table blocks rewritten");
                return 0;
            }
            var problems = ResultBlocks.Check(check!);
            foreach (var problem in problems) error.WriteLine(problem);
            if (problems.Count == 0) output.WriteLine($"{check}: every table block is up to date");
            return problems.Count == 0 ? 0 : OutOfDate;
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException or IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"superalign: {e.Message.Split('\n')[0].Trim()}");
            return CommandLine.BadInput;
        }
    }
}
