using System.CommandLine;
using Superalign.Charts;

namespace Superalign.Cli;

/// <summary>
/// <c>superalign plot &lt;result.json or run directory&gt; [--out dir] [--format png,svg]</c>: reads a protocol result
/// back and writes that protocol's charts (<see cref="ProtocolCharts"/>), printing each path. Bad input is one line on
/// stderr and exit code 2, as for the other commands.
/// </summary>
public static class PlotCommand
{
    /// <summary>The <c>plot</c> command, writing paths to <paramref name="output"/> and problems to <paramref name="error"/>.</summary>
    public static Command Build(TextWriter output, TextWriter error)
    {
        var input = new Argument<string>("result") { Description = "A result.json, or a run directory holding one (superalign run --out writes both)." };
        var outDir = new Option<string?>("--out") { Description = "Where the charts go; default: the folder of the result." };
        var format = new Option<string>("--format") { Description = "Image formats: png, svg or png,svg.", DefaultValueFactory = _ => "png,svg" };
        var width = new Option<int>("--width") { Description = "Image width in pixels.", DefaultValueFactory = _ => ChartRenderer.DefaultWidth };
        var height = new Option<int>("--height") { Description = "Image height in pixels.", DefaultValueFactory = _ => ChartRenderer.DefaultHeight };
        var plot = new Command("plot", "Draw a protocol result's charts (PNG and SVG) from its result.json.") { input, outDir, format, width, height };
        plot.SetAction(parse => Plot(parse.GetValue(input)!, parse.GetValue(outDir), parse.GetValue(format)!, parse.GetValue(width), parse.GetValue(height), output, error));
        return plot;
    }

    private static int Plot(string path, string? outDir, string formatText, int width, int height, TextWriter output, TextWriter error)
    {
        int Bad(string message)
        {
            error.WriteLine($"superalign: {message}");
            return CommandLine.BadInput;
        }

        if (ParseFormats(formatText) is not { } formats) return Bad($"--format {formatText}: expected png, svg or png,svg.");
        if (width is < 100 or > 10_000 || height is < 100 or > 10_000) return Bad($"--width and --height must be in [100, 10000] pixels; got {width}x{height}.");
        IReadOnlyList<ProtocolResultFile> results;
        try
        {
            results = ProtocolResultFile.Read(path);
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException or IOException or UnauthorizedAccessException)
        {
            return Bad(e.Message);
        }
        string directory = outDir ?? (Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(path))!);
        try
        {
            Directory.CreateDirectory(directory);
            foreach (var result in results)
                foreach (string written in ProtocolCharts.Write(result.Result, directory, formats, width, height))
                    output.WriteLine(written);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Bad($"--out {directory}: cannot write there ({e.Message.Split('\n')[0].Trim()}).");
        }
        return 0;
    }

    /// <summary>The formats of <c>png</c>, <c>svg</c> or <c>png,svg</c> (any order, case-insensitive); null when unknown.</summary>
    internal static ChartFormats? ParseFormats(string text)
    {
        ChartFormats formats = 0;
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (part.Equals("png", StringComparison.OrdinalIgnoreCase)) formats |= ChartFormats.Png;
            else if (part.Equals("svg", StringComparison.OrdinalIgnoreCase)) formats |= ChartFormats.Svg;
            else return null;
        }
        return formats == 0 ? null : formats;
    }
}
