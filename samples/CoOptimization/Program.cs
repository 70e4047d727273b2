// The headline comparison: on the built-in value-conflict task (arithmetic requests, some of which a value rule says
// to refuse or to answer with a caveat), train the same tiny LM with competence-only, conformity-only, sequential
// (SFT then DPO), joint (weighted sum) and alternating schedules from the same base model and with the same budget of
// mini-batches; print held-out competence and conformity with 95% intervals over seeds, and write result.json.
//
//   dotnet run --project samples/CoOptimization -c Release -- [--seeds 5] [--budget 1600] [--out artifacts/co-optimization]
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Superalign.Protocols;

var arguments = ParseArguments(args);
int seedCount = int.Parse(arguments.GetValueOrDefault("seeds", "5"), CultureInfo.InvariantCulture);
var output = arguments.GetValueOrDefault("out", Path.Combine("artifacts", "co-optimization"));
var options = new CoOptimizationOptions
{
    Seeds = Enumerable.Range(0, seedCount).ToArray(),
    BatchBudget = int.Parse(arguments.GetValueOrDefault("budget", "1600"), CultureInfo.InvariantCulture),
};
if (arguments.TryGetValue("beta", out var beta)) options = options with { Beta = double.Parse(beta, CultureInfo.InvariantCulture) };
if (arguments.TryGetValue("loss", out var loss)) options = options with { ConformityLoss = loss };
if (arguments.TryGetValue("lr", out var lr)) options = options with { LearningRate = double.Parse(lr, CultureInfo.InvariantCulture) };
if (arguments.TryGetValue("schedules", out var names))
    options = options with { Schedules = ScheduleCandidate.Defaults().Where(s => names.Split(',').Contains(s.Name)).ToList() };
TorchSharp.torch.set_num_threads(1);
using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information));
var watch = Stopwatch.StartNew();
var result = new CoOptimizationComparison(options, loggerFactory).Run(new Progress<ProtocolProgress>(p => Console.Error.WriteLine(p)));

Console.WriteLine();
Console.WriteLine($"co-optimization on the value-conflict task: seeds {string.Join(",", options.Seeds)}, {result.TrainPrompts} training / {result.TestPrompts} held-out prompts per seed, " +
                  $"budget {options.BatchBudget} batches of {options.BatchSize}, base = {options.PretrainSteps} SFT updates, DPO β = {options.Beta}");
Console.WriteLine($"base model: competence {result.Base.Average(b => b.Competence):P1}, conformity {result.Base.Average(b => b.Conformity):P1} (mean over seeds)");
Console.WriteLine();
Console.WriteLine($"{"schedule",-16} {"competence (95% CI)",-26} {"conformity (95% CI)",-26} {"retention",9} {"Pareto",6}");
foreach (var s in result.Summaries)
    Console.WriteLine($"{s.Schedule,-16} {Interval(s.Competence),-26} {Interval(s.Conformity),-26} {s.CompetenceRetention,9:P0} {(s.OnParetoFront ? "yes" : ""),6}");
Console.WriteLine();
Console.WriteLine($"{"schedule",-16} {"refuses protected",18} {"over-refuses",13} {"caveat when asked",18}");
foreach (var g in result.Runs.GroupBy(r => r.Schedule))
    Console.WriteLine($"{g.Key,-16} {g.Average(r => r.Scores.RefusalRate),18:P1} {g.Average(r => r.Scores.OverRefusalRate),13:P1} {g.Average(r => r.Scores.CaveatRate),18:P1}");
Console.WriteLine();
Console.WriteLine(result.Verdict);
ProtocolJson.Write(result, Path.Combine(output, "result.json"));
Console.WriteLine($"wrote {Path.Combine(output, "result.json")}; wall time {watch.Elapsed.TotalSeconds:F0} s");
return 0;

static string Interval(Superalign.Metrics.SummaryStatistics s) =>
    double.IsNaN(s.Lower) ? $"{s.Mean:P1}" : string.Create(CultureInfo.InvariantCulture, $"{s.Mean:P1} [{s.Lower:P1}, {s.Upper:P1}]");

static Dictionary<string, string> ParseArguments(string[] args)
{
    var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
    for (int i = 0; i < args.Length; i++)
    {
        if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            throw new ArgumentException($"Expected '--name value' pairs; got '{args[i]}'. Options: --seeds N, --budget N, --beta B, --loss NAME, --lr LR, --schedules a,b, --out DIR.");
        result[args[i][2..]] = args[++i];
    }
    return result;
}
