using System.Globalization;
using Superalign.Experiments.Protocols;

namespace Superalign.Cli.Reports;

/// <summary>
/// The summary a person reads after a run: the tables and lines each sample used to print, one file per protocol
/// beside this one. <c>superalign run</c> (one process) and <c>superalign merge</c> print it after writing result.json;
/// everything in it comes from the result (which holds its options), so a merge prints what the run would have.
/// </summary>
public static class ProtocolReports
{
    /// <summary>Writes the summary of <paramref name="result"/> to <paramref name="output"/>, numbers in the invariant culture.</summary>
    /// <param name="result">A result of a catalog protocol.</param>
    /// <param name="output">Where the lines go.</param>
    /// <returns>False (and nothing written) when no report knows the result's type.</returns>
    public static bool Write(IProtocolResult result, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(output);
        // The reports format with interpolated strings; the culture is set for this thread only while they run.
        var culture = CultureInfo.CurrentCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        try
        {
            switch (result)
            {
                case WeakToStrongResult r: WeakToStrongReport.Write(r, output); return true;
                case CoOptimizationResult r: CoOptimizationReport.Write(r, output); return true;
                case AlignmentTaxResult r: AlignmentTaxReport.Write(r, output); return true;
                case SelfEnhancementResult r: SelfEnhancementReport.Write(r, output); return true;
                case SandwichingResult r: SandwichingReport.Write(r, output); return true;
                case GapAnnealingResult r: GapAnnealingReport.Write(r, output); return true;
                case DiversifiedSupervisionResult r: DiversifiedSupervisionReport.Write(r, output); return true;
                default: return false;
            }
        }
        finally
        {
            CultureInfo.CurrentCulture = culture;
        }
    }
}
