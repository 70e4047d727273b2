// Weak-to-strong generalization on the built-in representation task (Burns et al. 2023; Charikar et al. 2024):
// linear probes on shallow pretrained trunks supervise linear probes on deep ones, and the students recover part of
// the gap to the ground-truth ceiling. Prints one table per (weak, strong) pair, the median PGR, and writes result.json.
//
//   dotnet run -c Release --project samples/WeakToStrong -- [--seeds N] [--loss xent|logconf] [--ensemble]
//                                                          [--out DIR] [--threads N]
//
// --threads defaults to 1: these models are tiny, and on a small (or shared) CPU one TorchSharp thread is several
// times faster than many; 0 keeps TorchSharp's default.
using System.Diagnostics;
using System.Globalization;
using Superalign.Charts;
using Superalign.Experiments.Metrics;
using Superalign.Experiments.Protocols;
using Superalign.Samples;
using TorchSharp;

const string Usage = "--seeds N, --loss xent|logconf|..., --ensemble, --out DIR, --threads N";
// Every value is read and the protocol's options validated before any work: a bad one prints one line and exits with 2.
var arguments = SampleArguments.ParseOrExit(args, "WeakToStrong", Usage).Bind("CompetenceLoss", "loss");
int threads = arguments.OrExit(() => arguments.Int("threads", 1, min: 0));
bool ensemble = arguments.OrExit(() => arguments.Flag("ensemble"));
var options = arguments.OrExit(() =>
{
    var o = new WeakToStrongOptions
    {
        Seeds = Enumerable.Range(0, arguments.Int("seeds", 3, min: 1, max: 1000)).ToArray(),
        CompetenceLoss = arguments.Text("loss", "xent"),
        Ensemble = ensemble,
    };
    o.Validate();
    return o;
});
string output = arguments.OutputDirectoryOrExit("out", Path.Combine("artifacts", "weak-to-strong"));
if (threads > 0) torch.set_num_threads(threads);
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

var watch = Stopwatch.StartNew();
var protocol = new WeakToStrong(options);
Console.WriteLine($"weak-to-strong on the representation task: seeds {string.Join(",", options.Seeds)}, loss {options.CompetenceLoss}, " +
                  $"{options.Steps} steps at lr {options.LearningRate} batch {options.BatchSize}, ensemble {(ensemble ? $"{options.EnsembleMembers} members ({options.EnsembleCombination})" : "off")}, " +
                  $"torch threads {torch.get_num_threads()}");
var result = protocol.Run(new SynchronousProgress(p => { if (!Console.IsErrorRedirected) Console.Error.Write($"\r{p.ToString(),-110}"); }));
if (!Console.IsErrorRedirected) Console.Error.Write($"\r{new string(' ', 110)}\r");

var s = result.SampleSizes;
Console.WriteLine($"data: {s.Train} training examples (A = {s.WeakTraining} for the weak models, B = {s.StrongTraining} for students and ceilings), " +
                  $"{s.Test} test examples, {s.Features} features, {s.Classes} classes; device {result.Device}");
Console.WriteLine();
Console.WriteLine("pretrained trunks (R² on fresh inputs: of the auxiliary tasks, and of h* read linearly from the features)");
Console.WriteLine($"  {"trunk",-10} {"aux R²",7} {"h* R²",7} {"seconds",8}");
foreach (var t in result.Trunks)
    Console.WriteLine(($"  {t.Spec.Name,-10} {t.AuxiliaryR2,7:F3} {t.RepresentationR2,7:F3} {t.PretrainSeconds,8:F1}"));

foreach (var pair in result.Pairs)
{
    Console.WriteLine();
    string supervisor = pair.Variant == SupervisionVariant.Single ? pair.Weak : $"ensemble of {options.EnsembleMembers}× {pair.Weak} ({options.EnsembleCombination})";
    Console.WriteLine($"{supervisor} -> {pair.Strong}");
    Console.WriteLine($"  {"seed",4} {"weak",6} {"student",7} {"ceiling",7} {"PGR",6} {"95% CI",-16} {"agree",6} {"copied",7} {"fixed",7} {"ECE w/s/c",-17}{(pair.Variant == SupervisionVariant.Ensemble ? " members split" : "")}");
    foreach (var r in result.Rows.Where(r => r.Variant == pair.Variant && r.Weak == pair.Weak && r.Strong == pair.Strong))
    {
        var e = r.WeakErrors;
        Console.WriteLine((
            $"  {r.Seed,4} {r.WeakAccuracy,6:P1} {r.StudentAccuracy,7:P1} {r.CeilingAccuracy,7:P1} {Pgr(r.Pgr),6} {Ci(r.PgrInterval),-16} {r.Agreement,6:P1} {e.Copied,4}/{e.WeakErrors,-4} {e.Corrected,4}/{e.WeakErrors,-4} {r.WeakEce:F3}/{r.StudentEce:F3}/{r.CeilingEce:F3}" +
            (r.MemberDisagreement is { } d ? $"   {d.ArgmaxDisagreement,6:P1}" : "")));
    }
    Console.WriteLine((
        $"  mean {pair.WeakAccuracy,6:P1} {pair.StudentAccuracy,7:P1} {pair.CeilingAccuracy,7:P1}  PGR over seeds: {(pair.Pgr is { } p ? $"{p.Mean:F2} [{p.Lower:F2}, {p.Upper:F2}] (t, n = {p.Count})" : "none included")}, median {Pgr(pair.MedianPgr)}" +
        (pair.Excluded > 0 ? $", {pair.Excluded} seed(s) excluded" : "")));
}

Console.WriteLine();
Console.WriteLine("PGR per strong size (per seed: mean over weak models; mean over seeds with a 95% t-interval)");
foreach (var z in result.StrongSizes)
    Console.WriteLine((
        $"  {z.Variant,-8} {z.Strong,-10} {(z.Pgr is { } p ? $"{p.Mean:F2} [{p.Lower:F2}, {p.Upper:F2}] (n = {p.Count})" : "none included")}"));
foreach (var v in result.Variants)
    Console.WriteLine((
        $"median PGR ({v.Variant}, over {v.Included} (weak, strong, seed) rows{(v.Excluded > 0 ? $", {v.Excluded} excluded" : "")}): {Pgr(v.MedianPgr)}"));

var path = Path.Combine(output, "result.json");
ProtocolJson.Write(result, path);
// The picture: PGR against the strong student's size, one line per weak supervisor (95% t-interval over seeds).
var charts = ProtocolCharts.Write(result, output);
Console.WriteLine($"wrote {path} and {string.Join(", ", charts.Select(Path.GetFileName))}; protocol {result.WallSeconds:F1} s, program {watch.Elapsed.TotalSeconds:F1} s");
return 0;

static string Pgr(double value) => double.IsNaN(value) ? "excl." : value.ToString("F2");

static string Ci(BootstrapInterval i) => i.Resamples == 0 ? "-" : ($"[{i.Lower:F2}, {i.Upper:F2}]");

/// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool and interleave output).</summary>
sealed class SynchronousProgress(Action<ProtocolProgress> report) : IProgress<ProtocolProgress>
{
    public void Report(ProtocolProgress value) => report(value);
}
