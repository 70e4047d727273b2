// Superalign sandwiching sample: a weak judge that sees only k of 32 features, helped (or not) by strong models that
// see them all, on the built-in sparse-evidence task. Prints judge accuracy with no help, with one consultant and
// after a debate, next to the expert's, with 95% intervals over seeds, and writes result.json.
//
//   dotnet run --project samples/Sandwiching -c Release -- [--seeds N] [--reveals K] [--amplitude A] [--evidence E]
//       [--out DIR] [--device cpu|cuda|auto] [--threads N]
//   --reveals, --amplitude and --evidence set SandwichingOptions.Reveals and the task's Amplitude and EvidencePerExample
//   (the settings of the table "What we found" in docs/protocols.md).
//
// The models are tiny: one CPU thread (the default here) is usually fastest, and with the same thread count results
// are bitwise reproducible.
using System.Diagnostics;
using System.Globalization;
using Superalign.Charts;
using Superalign.Experiments.Protocols;
using Superalign.Samples;

const string Usage = "--seeds N, --reveals K, --amplitude A, --evidence E, --out DIR, --device cpu|cuda|auto, --threads N";
// Every value is read and the protocol's options validated before any work: a bad one prints one line and exits with 2.
var arguments = SampleArguments.ParseOrExit(args, "Sandwiching", Usage)
    .Bind("EvidencePerExample", "evidence");
int seeds = arguments.OrExit(() => arguments.Int("seeds", 3, min: 1, max: 1000));
int threads = arguments.OrExit(() => arguments.Int("threads", 1, min: 0));
var defaults = new SandwichingOptions();
var options = arguments.OrExit(() =>
{
    var o = defaults with
    {
        Seeds = Enumerable.Range(0, seeds).ToArray(),
        Device = arguments.Device("device", "auto"),
        Reveals = arguments.Int("reveals", defaults.Reveals),
        Task = defaults.Task with
        {
            Amplitude = arguments.Double("amplitude", defaults.Task.Amplitude),
            EvidencePerExample = arguments.Int("evidence", defaults.Task.EvidencePerExample),
        },
    };
    o.Validate();
    return o;
});
arguments.DeviceOrExit("device", "auto", () => TorchSharp.torch.cuda.is_available());
string outDir = arguments.OutputDirectoryOrExit("out", Path.Combine("artifacts", "sandwiching"));

if (threads > 0) TorchSharp.torch.set_num_threads(threads);
var t = options.Task;
Console.WriteLine($"sandwiching: {seeds} seed(s); task {t.Features} features, {t.Classes} classes, {t.EvidencePerExample} evidence features per example; " +
                  $"judge sees k = {options.Reveals}; {options.TrainSize} training and {options.TestSize} test examples per seed");

var watch = Stopwatch.StartNew();
var result = new Sandwiching(options).Run(new Progress(p => Console.WriteLine($"  {p}")));
watch.Stop();

Console.WriteLine();
Console.WriteLine($"{"condition",-24} {"mean accuracy",13}  {"95% CI (t, over seeds)",-24} {"seeds",5} {"test examples",13}");
foreach (var (condition, s) in result.Conditions())
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{condition,-24} {s.Mean,13:P1}  {Interval(s.Lower, s.Upper),-24} {s.Count,5} {result.TestExamples * s.Count,13}"));
Console.WriteLine();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"debate − no help:     {result.DebateMinusNoHelp.Estimate,7:+0.0%;-0.0%}  95% paired bootstrap {Interval(result.DebateMinusNoHelp.Lower, result.DebateMinusNoHelp.Upper)} over {result.PooledTestExamples} pooled test examples"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"debate − consultancy: {result.DebateMinusConsultancy.Estimate,7:+0.0%;-0.0%}  95% paired bootstrap {Interval(result.DebateMinusConsultancy.Lower, result.DebateMinusConsultancy.Upper)}"));
foreach (var r in result.SeedResults)
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"  seed {r.Seed}: consultant honest → {r.HonestConsultantAccuracy:P1}, dishonest → {r.DishonestConsultantAccuracy:P1}; judge sided with the expert's answer in {r.DebateAgreesWithExpert:P1} of debates ({r.WallSeconds:F1} s)"));

string path = Path.Combine(outDir, "result.json");
ProtocolJson.Write(result, path);
var charts = ProtocolCharts.Write(result, outDir);
Console.WriteLine($"wrote {path} and {string.Join(", ", charts.Select(Path.GetFileName))}; wall time {watch.Elapsed.TotalSeconds:F1} s");
return 0;

static string Interval(double lower, double upper) =>
    double.IsNaN(lower) ? "n/a (one seed)" : string.Create(CultureInfo.InvariantCulture, $"[{lower:P1}, {upper:P1}]");

sealed class Progress(Action<ProtocolProgress> report) : IProgress<ProtocolProgress>
{
    public void Report(ProtocolProgress value) => report(value);
}
