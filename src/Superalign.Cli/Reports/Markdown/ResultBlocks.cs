using Superalign.Charts;
using Superalign.Experiments.Protocols;

namespace Superalign.Cli.Reports.Markdown;

/// <summary>A block of a markdown file that holds the tables of one result file.</summary>
/// <param name="ResultPath">The result file the start marker names, as written there (relative to the repository root).</param>
/// <param name="StartLine">The 1-based line of the start marker.</param>
/// <param name="EndLine">The 1-based line of the end marker.</param>
/// <param name="Content">The lines between the markers, without leading and trailing blank lines, joined by <c>\n</c>.</param>
public sealed record ResultBlock(string ResultPath, int StartLine, int EndLine, string Content);

/// <summary>
/// The generated blocks of a markdown file such as docs/results.md: the lines between
/// <c>&lt;!-- table: docs/results/&lt;name&gt;/result.json --&gt;</c> and <c>&lt;!-- end table --&gt;</c> are the output of
/// <c>superalign tables</c> for that file (<see cref="Generate"/>). <see cref="Check"/> says which blocks differ (a test
/// keeps docs/results.md in step with its committed results); <see cref="Update"/> rewrites them after a rerun.
/// </summary>
public static class ResultBlocks
{
    /// <summary>The start of a start marker; the result file's path and <c>--&gt;</c> follow.</summary>
    public const string StartMarker = "<!-- table: ";

    /// <summary>The end marker, alone on its line.</summary>
    public const string EndMarker = "<!-- end table -->";

    /// <summary>The marked blocks of <paramref name="markdown"/>, in order.</summary>
    /// <param name="markdown">The markdown text.</param>
    /// <param name="source">The file's name, for the messages.</param>
    /// <exception cref="InvalidDataException">A start marker without its end, an end marker without a start, or a marker that names no file; the message gives the line.</exception>
    public static IReadOnlyList<ResultBlock> Find(string markdown, string source)
    {
        ArgumentNullException.ThrowIfNull(markdown);
        var lines = markdown.Replace("\r\n", "\n").Split('\n');
        var blocks = new List<ResultBlock>();
        int? start = null;
        string? path = null;
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.StartsWith(StartMarker, StringComparison.Ordinal))
            {
                if (start is not null) throw new InvalidDataException($"{source}:{i + 1}: a table marker inside the block opened at line {start + 1}; close it with {EndMarker} first.");
                if (!line.EndsWith("-->", StringComparison.Ordinal) || line[StartMarker.Length..^3].Trim() is not { Length: > 0 } named)
                    throw new InvalidDataException($"{source}:{i + 1}: expected {StartMarker}<result.json path> -->.");
                (start, path) = (i, named);
            }
            else if (line == EndMarker)
            {
                if (start is not { } s) throw new InvalidDataException($"{source}:{i + 1}: {EndMarker} without a {StartMarker}… --> above it.");
                blocks.Add(new ResultBlock(path!, s + 1, i + 1, Trim(lines[(s + 1)..i])));
                (start, path) = (null, null);
            }
        }
        if (start is not null) throw new InvalidDataException($"{source}:{start + 1}: the block for {path} has no {EndMarker}.");
        return blocks;
    }

    /// <summary>
    /// What <c>superalign tables</c> prints for <paramref name="resultPath"/>: each result's tables and provenance line
    /// (<see cref="MarkdownTables.Render"/>), without a trailing newline.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a protocol result, or its protocol has no tables (<see cref="MarkdownTables.NoTables"/>).</exception>
    public static string Generate(string resultPath)
    {
        var results = ProtocolResultFile.Read(resultPath);
        string file = Directory.Exists(resultPath) ? Path.Combine(resultPath, ProtocolResultFile.ResultFileName) : resultPath;
        var provenance = ResultProvenance.Read(file);
        var parts = new List<string>();
        foreach (var r in results)
            parts.Add(MarkdownTables.Render(r.Result, provenance) ?? throw new InvalidDataException($"{resultPath}: {MarkdownTables.NoTables} ({r.Entry.Name})."));
        return string.Join("\n\n", parts);
    }

    /// <summary>
    /// The blocks of <paramref name="markdownPath"/> that differ from what <see cref="Generate"/> gives for their
    /// result file: one message per block, naming the file and line of the block, its result file and the first
    /// differing line (expected and found). Empty when every block is up to date.
    /// </summary>
    /// <param name="markdownPath">The markdown file.</param>
    /// <exception cref="FileNotFoundException">The markdown file, or a result file a block names, does not exist.</exception>
    /// <exception cref="InvalidDataException">A marker is malformed, or a result file is not a result with tables.</exception>
    public static IReadOnlyList<string> Check(string markdownPath)
    {
        var problems = new List<string>();
        foreach (var block in Find(ReadMarkdown(markdownPath), markdownPath))
        {
            var expected = Generate(Resolve(markdownPath, block)).Split('\n');
            var found = block.Content.Length == 0 ? [] : block.Content.Split('\n');
            int n = Math.Min(expected.Length, found.Length), first = Enumerable.Range(0, n).FirstOrDefault(i => expected[i] != found[i], n);
            if (first == n && expected.Length == found.Length) continue;
            problems.Add($"{markdownPath}:{block.StartLine}: the block of {block.ResultPath} is not what `superalign tables {block.ResultPath}` prints; " +
                         $"first difference at line {block.StartLine + 1 + first}: expected \"{(first < expected.Length ? expected[first] : "(end of block)")}\", " +
                         $"found \"{(first < found.Length ? found[first] : "(end of block)")}\". Regenerate with: superalign tables --update {markdownPath}");
        }
        return problems;
    }

    /// <summary>Rewrites every block of <paramref name="markdownPath"/> with <see cref="Generate"/>'s text for its result file; the rest of the file is kept byte for byte.</summary>
    /// <returns>The number of blocks whose text changed.</returns>
    /// <exception cref="FileNotFoundException">The markdown file, or a result file a block names, does not exist.</exception>
    /// <exception cref="InvalidDataException">A marker is malformed, or a result file is not a result with tables.</exception>
    public static int Update(string markdownPath)
    {
        string text = ReadMarkdown(markdownPath);
        string newline = text.Contains("\r\n", StringComparison.Ordinal) ? "\r\n" : "\n";
        var lines = text.Replace("\r\n", "\n").Split('\n').ToList();
        var blocks = Find(text, markdownPath);
        int changed = 0;
        // From the last block up, so that the earlier blocks' line numbers stay valid.
        foreach (var block in blocks.Reverse())
        {
            string generated = Generate(Resolve(markdownPath, block));
            if (generated == block.Content) continue;
            changed++;
            lines.RemoveRange(block.StartLine, block.EndLine - block.StartLine - 1);
            lines.InsertRange(block.StartLine, generated.Split('\n'));
        }
        if (changed > 0) File.WriteAllText(markdownPath, string.Join(newline, lines));
        return changed;
    }

    /// <summary>
    /// The file a block names: its path taken from the markdown file's folder or the first folder above it where it
    /// exists (the paths are relative to the repository root), else from the current directory.
    /// </summary>
    /// <exception cref="FileNotFoundException">Found nowhere; the message names the block.</exception>
    public static string Resolve(string markdownPath, ResultBlock block)
    {
        ArgumentNullException.ThrowIfNull(block);
        if (Path.IsPathRooted(block.ResultPath))
            return File.Exists(block.ResultPath) ? block.ResultPath : throw NotFound(markdownPath, block);
        for (var dir = new FileInfo(markdownPath).Directory; dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, block.ResultPath))) return Path.Combine(dir.FullName, block.ResultPath);
        return File.Exists(block.ResultPath) ? block.ResultPath : throw NotFound(markdownPath, block);
    }

    private static FileNotFoundException NotFound(string markdownPath, ResultBlock block) =>
        new($"{markdownPath}:{block.StartLine}: the block's result file {block.ResultPath} does not exist (looked in the folders above {markdownPath} and in the current directory).", block.ResultPath);

    private static string ReadMarkdown(string markdownPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(markdownPath);
        if (!File.Exists(markdownPath)) throw new FileNotFoundException($"{markdownPath} does not exist.", markdownPath);
        return File.ReadAllText(markdownPath);
    }

    private static string Trim(string[] lines)
    {
        int from = 0, to = lines.Length;
        while (from < to && lines[from].Trim().Length == 0) from++;
        while (to > from && lines[to - 1].Trim().Length == 0) to--;
        return string.Join('\n', lines[from..to]);
    }
}
