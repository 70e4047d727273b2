using Superalign.Experiments.Metrics;
using Superalign.Experiments.Protocols;
using static Superalign.Cli.Reports.ReportFormat;

namespace Superalign.Cli.Reports;

/// <summary>Weak-to-strong: the trunks, one table per (weak, strong) pair with PGR per seed, PGR per strong size and the median PGR.</summary>
internal static class WeakToStrongReport
{
    public static void Write(WeakToStrongResult result, TextWriter output)
    {
        var options = result.Options;
        output.WriteLine($"weak-to-strong on the representation task: seeds {string.Join(",", options.Seeds)}, loss {options.CompetenceLoss}, " +
                         $"{options.Steps} steps at lr {options.LearningRate} batch {options.BatchSize}, ensemble {(options.Ensemble ? $"{options.EnsembleMembers} members ({options.EnsembleCombination})" : "off")}");
        var s = result.SampleSizes;
        output.WriteLine($"data: {s.Train} training examples (A = {s.WeakTraining} for the weak models, B = {s.StrongTraining} for students and ceilings), " +
                         $"{s.Test} test examples, {s.Features} features, {s.Classes} classes; device {result.Device}");
        output.WriteLine();
        output.WriteLine("pretrained trunks (R² on fresh inputs: of the auxiliary tasks, and of h* read linearly from the features)");
        output.WriteLine($"  {"trunk",-10} {"aux R²",7} {"h* R²",7} {"seconds",8}");
        foreach (var t in result.Trunks)
            output.WriteLine($"  {t.Spec.Name,-10} {t.AuxiliaryR2,7:F3} {t.RepresentationR2,7:F3} {t.PretrainSeconds,8:F1}");

        foreach (var pair in result.Pairs)
        {
            output.WriteLine();
            string supervisor = pair.Variant == SupervisionVariant.Single ? pair.Weak : $"ensemble of {options.EnsembleMembers}× {pair.Weak} ({options.EnsembleCombination})";
            output.WriteLine($"{supervisor} -> {pair.Strong}");
            output.WriteLine($"  {"seed",4} {"weak",6} {"student",7} {"ceiling",7} {"PGR",6} {"95% CI",-16} {"agree",6} {"copied",7} {"fixed",7} {"ECE w/s/c",-17}{(pair.Variant == SupervisionVariant.Ensemble ? " members split" : "")}");
            foreach (var r in result.Rows.Where(r => r.Variant == pair.Variant && r.Weak == pair.Weak && r.Strong == pair.Strong))
            {
                var e = r.WeakErrors;
                output.WriteLine(
                    $"  {r.Seed,4} {r.WeakAccuracy,6:P1} {r.StudentAccuracy,7:P1} {r.CeilingAccuracy,7:P1} {Pgr(r.Pgr),6} {Ci(r.PgrInterval),-16} {r.Agreement,6:P1} {e.Copied,4}/{e.WeakErrors,-4} {e.Corrected,4}/{e.WeakErrors,-4} {r.WeakEce:F3}/{r.StudentEce:F3}/{r.CeilingEce:F3}" +
                    (r.MemberDisagreement is { } d ? $"   {d.ArgmaxDisagreement,6:P1}" : ""));
            }
            output.WriteLine(
                $"  mean {pair.WeakAccuracy,6:P1} {pair.StudentAccuracy,7:P1} {pair.CeilingAccuracy,7:P1}  PGR over seeds: {(pair.Pgr is { } p ? $"{p.Mean:F2} [{p.Lower:F2}, {p.Upper:F2}] (t, n = {p.Count})" : "none included")}, median {Pgr(pair.MedianPgr)}" +
                (pair.Excluded > 0 ? $", {pair.Excluded} seed(s) excluded" : ""));
        }

        output.WriteLine();
        output.WriteLine("PGR per strong size (per seed: mean over weak models; mean over seeds with a 95% t-interval)");
        foreach (var z in result.StrongSizes)
            output.WriteLine($"  {z.Variant,-8} {z.Strong,-10} {(z.Pgr is { } p ? $"{p.Mean:F2} [{p.Lower:F2}, {p.Upper:F2}] (n = {p.Count})" : "none included")}");
        foreach (var v in result.Variants)
            output.WriteLine($"median PGR ({v.Variant}, over {v.Included} (weak, strong, seed) rows{(v.Excluded > 0 ? $", {v.Excluded} excluded" : "")}): {Pgr(v.MedianPgr)}");
    }

    private static string Ci(BootstrapInterval i) => i.Resamples == 0 ? "-" : $"[{i.Lower:F2}, {i.Upper:F2}]";
}
