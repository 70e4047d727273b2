// Self-enhancement (learning from AI feedback): a tiny LM trained by SFT on a few demonstrations of the value rule
// samples two responses per prompt, a judge of equal capability (itself, or a peer) prefers one, and the preference
// objective trains on the judged pairs, for several rounds. The task's exact checkers act as an oracle judge for
// comparison. Prints competence, conformity, judge agreement and diversity per round with 95% intervals over seeds.
//
//   dotnet run --project samples/SelfEnhancement -c Release -- [--seeds 3] [--rounds 3] [--out artifacts/self-enhancement]
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Superalign.Charts;
using Superalign.Experiments.Metrics;
using Superalign.Experiments.Protocols;
using Superalign.Samples;

// Every value is read and the protocol's options validated before any work: a bad one prints one line and exits with 2.
var arguments = SampleArguments.ParseOrExit(args, "SelfEnhancement", "--seeds N, --rounds N, --steps N, --temperature T, --loss NAME, --beta B, --lr LR, --judges Self,Peer,Oracle, --out DIR")
    .Bind("StepsPerRound", "steps").Bind("SamplingTemperature", "temperature").Bind("ConformityLoss", "loss").Bind("PreferenceLearningRate", "lr");
var options = arguments.OrExit(() =>
{
    var defaults = new SelfEnhancementOptions();
    var o = defaults with
    {
        Seeds = Enumerable.Range(0, arguments.Int("seeds", 3, min: 1, max: 1000)).ToArray(),
        Rounds = arguments.Int("rounds", 3),
        StepsPerRound = arguments.Int("steps", defaults.StepsPerRound),
        SamplingTemperature = arguments.Double("temperature", defaults.SamplingTemperature),
        ConformityLoss = arguments.Text("loss", defaults.ConformityLoss),
        Beta = arguments.Double("beta", defaults.Beta),
        PreferenceLearningRate = arguments.Double("lr", defaults.PreferenceLearningRate),
        Judges = arguments.Optional("judges")?.Split(',').Select(j => SampleArguments.ParseEnum<FeedbackJudge>("judges", j)).ToArray() ?? defaults.Judges,
    };
    o.Validate();
    return o;
});
var output = arguments.OutputDirectoryOrExit("out", Path.Combine("artifacts", "self-enhancement"));
TorchSharp.torch.set_num_threads(1);
using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information));
var watch = Stopwatch.StartNew();
var result = new SelfEnhancement(options, loggerFactory).Run(new Progress<ProtocolProgress>(p => Console.Error.WriteLine(p)));

Console.WriteLine();
Console.WriteLine($"self-enhancement on the value-conflict task: seeds {string.Join(",", options.Seeds)}, {result.TrainPrompts} training prompts " +
                  $"({result.Demonstrations} with a demonstration) / {result.TestPrompts} held-out per seed; {options.PromptsPerRound} sampled pairs and " +
                  $"{options.StepsPerRound} {options.ConformityLoss} updates per round");
Console.WriteLine();
Console.WriteLine($"{"judge",-7} {"round",5} {"competence (95% CI)",-24} {"conformity (95% CI)",-24} {"judge agreement",-24} {"diversity",-10}");
foreach (var s in result.Summaries)
    Console.WriteLine($"{s.Judge,-7} {s.Round,5} {Interval(s.Competence),-24} {Interval(s.Conformity),-24} {(s.JudgeAgreement is null ? "-" : Interval(s.JudgeAgreement)),-24} {s.Diversity.Mean,-10:F2}");
ProtocolJson.Write(result, Path.Combine(output, "result.json"));
var charts = ProtocolCharts.Write(result, output);
Console.WriteLine($"wrote result.json and {string.Join(", ", charts.Select(Path.GetFileName))} to {output}; wall time {watch.Elapsed.TotalSeconds:F0} s");
return 0;

static string Interval(SummaryStatistics s) =>
    double.IsNaN(s.Lower) ? $"{s.Mean:P1}" : string.Create(CultureInfo.InvariantCulture, $"{s.Mean:P1} [{s.Lower:P1}, {s.Upper:P1}]");
