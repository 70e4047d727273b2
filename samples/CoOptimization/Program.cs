// The headline comparison: on the built-in value-conflict task (arithmetic requests, some of which a value rule says
// to refuse or to answer with a caveat), train the same tiny LM with competence-only, conformity-only, sequential
// (SFT then preference training), joint (weighted sum) and alternating schedules from the same base model and with the
// same budget of mini-batches; print held-out competence and conformity with 95% intervals over seeds, write
// result.json and charts as PNG and SVG (competence against conformity per schedule, every run's final point with the
// Pareto front, each objective along training).
//
//   dotnet run --project samples/CoOptimization -c Release -- [--seeds 5] [--budget 1600] [--loss orpo] [--beta 0.5]
//       [--lr 2e-3] [--schedules competence-only,sequential,...] [--out artifacts/co-optimization]
//   --schedules picks from both lists below by name;
//   --conflict-aware compares plain alternation with an annealed ratio, joint steps with PCGrad / MGDA, and two
//       searches over learning directions (phase, joint weights) scored on --probes N held-out training prompts (128
//       when a chosen schedule searches, otherwise 0).
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Superalign.Charts;
using Superalign.Experiments.Metrics;
using Superalign.Experiments.Protocols;
using Superalign.Samples;

// Every value is read and the protocol's options validated before any work: a bad one prints one line and exits with 2.
var arguments = SampleArguments.ParseOrExit(args, "CoOptimization", "--seeds N, --budget N, --loss NAME, --beta B, --lr LR, --schedules a,b, --conflict-aware, --probes N, --out DIR")
    .Bind("BatchBudget", "budget").Bind("ConformityLoss", "loss").Bind("LearningRate", "lr").Bind("ProbePrompts", "probes");
var defaults = new CoOptimizationOptions();
var names = arguments.OrExit(() => arguments.Optional("schedules")?.Split(','));
bool conflictAware = arguments.OrExit(() => arguments.Flag("conflict-aware"));
var schedules = arguments.OrExit(() => conflictAware ? ScheduleCandidate.ConflictAware() : names is null ? defaults.Schedules : names.Select(Schedule).ToList());
var options = arguments.OrExit(() =>
{
    var o = defaults with
    {
        Seeds = Enumerable.Range(0, arguments.Int("seeds", 5, min: 1, max: 1000)).ToArray(),
        BatchBudget = arguments.Int("budget", defaults.BatchBudget),
        ConformityLoss = arguments.Text("loss", defaults.ConformityLoss),
        Beta = arguments.Double("beta", defaults.Beta),
        LearningRate = arguments.Double("lr", defaults.LearningRate),
        Schedules = schedules,
        // The searches' probe prompts are held out of training for every schedule of the comparison.
        ProbePrompts = arguments.Int("probes", schedules.Any(s => s.Search is not null) ? 128 : 0),
    };
    o.Validate();
    return o;
});
var output = arguments.OutputDirectoryOrExit("out", Path.Combine("artifacts", "co-optimization"));
TorchSharp.torch.set_num_threads(1); // tiny models: one thread is faster on a small CPU, and results do not depend on the core count
using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information));
var watch = Stopwatch.StartNew();
var result = new CoOptimizationComparison(options, loggerFactory).Run(new Progress<ProtocolProgress>(p => Console.Error.WriteLine(p)));

Console.WriteLine();
Console.WriteLine($"co-optimization on the value-conflict task: seeds {string.Join(",", options.Seeds)}, {result.TrainPrompts} training / {result.TestPrompts} held-out prompts per seed, " +
                  $"budget {options.BatchBudget} batches of {options.BatchSize}, base = {options.PretrainSteps} SFT updates, {options.ConformityLoss} (strength {options.Beta})" +
                  (options.ProbePrompts > 0 ? $", {options.ProbePrompts} training prompts held out as search probes" : ""));
Console.WriteLine($"base model: competence {result.Base.Average(b => b.Competence):P1}, conformity {result.Base.Average(b => b.Conformity):P1} (mean over seeds)");
Console.WriteLine();
int nameWidth = Math.Max("schedule".Length, result.Summaries.Max(s => s.Schedule.Length));
Console.WriteLine($"{"schedule".PadRight(nameWidth)} {"competence (95% CI)",-24} {"conformity (95% CI)",-24} {"retention",9} {"Pareto",6} {"refuses",8} {"over-refuses",12} {"caveats",8}");
foreach (var s in result.Summaries)
{
    var runs = result.Runs.Where(r => r.Schedule == s.Schedule).ToList();
    Console.WriteLine($"{s.Schedule.PadRight(nameWidth)} {Interval(s.Competence),-24} {Interval(s.Conformity),-24} {(double.IsNaN(s.CompetenceRetention) ? "n/a" : s.CompetenceRetention.ToString("P0", CultureInfo.InvariantCulture)),9} {(s.OnParetoFront ? "yes" : ""),6} " +
                      $"{runs.Average(r => r.Scores.RefusalRate),8:P0} {runs.Average(r => r.Scores.OverRefusalRate),12:P0} {runs.Average(r => r.Scores.CaveatRate),8:P0}");
}
foreach (var s in result.Summaries.Where(s => s.Search is not null))
{
    var search = s.Search!;
    Console.WriteLine($"{s.Schedule}: {search.Searches} searches over {options.Seeds.Count} seeds; wins " +
                      string.Join(", ", search.Wins.Select(w => $"{w.Key} {w.Value}")) +
                      $"; Pareto improvements {(double)search.ParetoImprovements / search.Searches:P0}; a search step costs {search.SearchStepCostRatio:F1}× a plain step; " +
                      $"training {s.MeanSeconds:F1} s per seed against {result.Summaries.FirstOrDefault(x => x.Schedule == "alternating")?.MeanSeconds ?? double.NaN:F1} s for alternating");
}
if (result.VersusAlternating is { Count: > 0 } paired && options.Seeds.Count > 1)
{
    Console.WriteLine();
    Console.WriteLine($"paired over {options.Seeds.Count} seeds, schedule − alternating (95% t intervals):");
    foreach (var p in paired)
        Console.WriteLine($"  {p.First.PadRight(nameWidth)} competence {Difference(p.CompetenceDifference),-26} conformity {Difference(p.ConformityDifference)}");
}
Console.WriteLine();
Console.WriteLine(result.Verdict);
Console.WriteLine($"Pareto front of the {result.Pareto.Finals.Count} runs' final points: {string.Join(", ", result.Pareto.Front.Select(p => p.Run))}; hypervolume {result.Pareto.Hypervolume:F3}");
Console.WriteLine("hypervolume (competence × conformity) per schedule: " + string.Join(", ", result.HypervolumeBySchedule.Select(kv => $"{kv.Key} {Number(kv.Value)}")));

ProtocolJson.Write(result, Path.Combine(output, "result.json"));
var charts = ProtocolCharts.Write(result, output);
Console.WriteLine($"wrote result.json and {string.Join(", ", charts.Select(Path.GetFileName))} to {output}; wall time {watch.Elapsed.TotalSeconds:F0} s");
return 0;

static string Number(SummaryStatistics s) =>
    double.IsNaN(s.Lower) ? $"{s.Mean:F3}" : string.Create(CultureInfo.InvariantCulture, $"{s.Mean:F3} [{s.Lower:F3}, {s.Upper:F3}]");

static string Difference(SummaryStatistics d) =>
    string.Create(CultureInfo.InvariantCulture, $"{100 * d.Mean:+0.0;-0.0} [{100 * d.Lower:+0.0;-0.0}, {100 * d.Upper:+0.0;-0.0}] pts");

// --schedules picks from the default and the conflict-aware lists.
static ScheduleCandidate Schedule(string name)
{
    var known = ScheduleCandidate.Defaults().Concat(ScheduleCandidate.ConflictAware()).DistinctBy(s => s.Name).ToList();
    return known.FirstOrDefault(s => s.Name.Equals(name.Trim(), StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"--schedules: unknown schedule '{name}'; known: {string.Join(", ", known.Select(s => s.Name))}.", "schedules");
}

static string Interval(SummaryStatistics s) =>
    double.IsNaN(s.Lower) ? $"{s.Mean:P1}" : string.Create(CultureInfo.InvariantCulture, $"{s.Mean:P1} [{s.Lower:P1}, {s.Upper:P1}]");
