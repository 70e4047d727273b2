using System.Globalization;
using Superalign.Experiments.Protocols;

namespace Superalign.Cli.Reports.Markdown;

/// <summary>
/// The markdown tables docs/results.md shows for a protocol result, built from the result alone (which holds its
/// options) with numbers in the invariant culture, and the line that says where it was computed. One writer per
/// protocol beside this file; <c>superalign tables</c> prints them and rewrites the marked blocks of a markdown file
/// (<see cref="ResultBlocks"/>).
/// </summary>
public static class MarkdownTables
{
    /// <summary>What <c>superalign tables</c> says for a result whose protocol has no tables.</summary>
    public const string NoTables = "no tables for this result type";

    /// <summary>
    /// Writes the tables of <paramref name="result"/> to <paramref name="output"/>, separated by blank lines.
    /// </summary>
    /// <param name="result">A protocol result.</param>
    /// <param name="output">Where the lines go.</param>
    /// <returns>False (and nothing written) when no writer knows the result's type (<see cref="NoTables"/>).</returns>
    public static bool Write(IProtocolResult result, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(output);
        // Add a protocol here: one case and its writer's file beside this one.
        Action<TextWriter>? write = result switch
        {
            WeakToStrongResult r => o => WeakToStrongReport.WriteMarkdownTables(r, o),
            AlignmentTaxResult r => o => AlignmentTaxReport.WriteMarkdownTables(r, o),
            SandwichingResult r => o => SandwichingTables.Write(r, o),
            SelfEnhancementResult r => o => SelfEnhancementTables.Write(r, o),
            GapAnnealingResult r => o => GapAnnealingTables.Write(r, o),
            DiversifiedSupervisionResult r => o => DiversifiedSupervisionTables.Write(r, o),
            _ => null,
        };
        if (write is null) return false;
        // The writers format with interpolated strings too; the culture is set for this thread only while they run.
        var culture = CultureInfo.CurrentCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        try
        {
            write(output);
        }
        finally
        {
            CultureInfo.CurrentCulture = culture;
        }
        return true;
    }

    /// <summary>
    /// The tables of <paramref name="result"/> followed by a blank line and the provenance line
    /// (<see cref="ProvenanceLine"/>), without a trailing newline; null when no writer knows the result's type.
    /// </summary>
    /// <param name="result">A protocol result.</param>
    /// <param name="provenance">Its provenance as result.json records it, or null when it records none.</param>
    public static string? Render(IProtocolResult result, ResultProvenance? provenance)
    {
        var text = new StringWriter { NewLine = "\n" };
        if (!Write(result, text)) return null;
        text.WriteLine();
        text.Write(ProvenanceLine(result, provenance));
        return text.ToString();
    }

    /// <summary>
    /// One italic line: where the units were computed (CPU, vector instructions, logical processors, torch threads, OS,
    /// .NET, TorchSharp, libtorch, Superalign and commit, date), the process that wrote the result when it differs
    /// (a merge), units that recorded no provenance, and the run's wall time.
    /// </summary>
    public static string ProvenanceLine(IProtocolResult result, ResultProvenance? provenance)
    {
        ArgumentNullException.ThrowIfNull(result);
        string wall = string.Create(CultureInfo.InvariantCulture, $"wall time {result.WallSeconds:F1} s");
        if (provenance is null) return $"*Provenance not recorded (result written before Superalign recorded it); {wall}.*";
        var parts = new List<string>();
        if (provenance.Units.Count == 1 && provenance.UnitsWithoutProvenance.Count == 0)
        {
            parts.Add($"Computed on {Describe(provenance.Units[0].Provenance)}");
        }
        else
        {
            foreach (var group in provenance.Units)
                parts.Add($"{UnitList(group.Units)} computed on {Describe(group.Provenance)}");
            if (provenance.UnitsWithoutProvenance.Count > 0)
                parts.Add($"{UnitList(provenance.UnitsWithoutProvenance)}: provenance not recorded");
        }
        // A merge of units that recorded nothing says at least where the result was written.
        if (provenance.Units.Count == 0 || !provenance.Units.All(g => g.Provenance.SameEnvironment(provenance.Written)))
            parts.Add($"result written on {Describe(provenance.Written)}");
        string text = string.Join("; ", parts);
        return $"*{char.ToUpperInvariant(text[0])}{text[1..]}; {wall}.*";
    }

    /// <summary>A few units by name (<c>units seed-0, seed-1</c>); more than six as a count (<c>40 units</c>).</summary>
    private static string UnitList(IReadOnlyList<string> units) => units.Count <= 6 ? $"units {string.Join(", ", units)}" : $"{units.Count} units";

    private static string Describe(RunProvenance p) => $"{p.Describe()}, {p.TimeUtc.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}";
}
