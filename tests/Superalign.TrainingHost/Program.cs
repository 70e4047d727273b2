using Superalign.Optimization;
using Superalign.TrainingHost;
using static TorchSharp.torch;

// superalign-training-host <scenario> <checkpoint-dir> <final-state-file> [every]
// Trains the scenario with checkpoints every N updates (default 4), resuming from the newest valid one in the
// directory; prints "resumed N" once and "step N" after every update (flushed), then writes the final run state.
if (args.Length is < 3 or > 4 || !TrainingScenario.Names.Contains(args[0]))
{
    Console.Error.WriteLine($"usage: Superalign.TrainingHost <{string.Join("|", TrainingScenario.Names)}> <checkpoint-dir> <final-state-file> [every]");
    return 2;
}
set_num_threads(1);
long every = args.Length == 4 ? long.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 4;
using var scenario = TrainingScenario.Create(args[0]);
bool first = true;
scenario.Train(new TrainingCheckpoints(args[1]) { Every = every }, new Progress(report =>
{
    if (first) Console.Out.WriteLine($"resumed {report.Step}");
    first = false;
    Console.Out.WriteLine($"step {report.Step + 1}");
    Console.Out.Flush();
}));
scenario.Optimizer.SaveCheckpoint(args[2], scenario.Competence, scenario.Conformity);
Console.Out.WriteLine("done");
return 0;

/// <summary>A synchronous progress sink (System.Progress posts to the thread pool, which would reorder lines).</summary>
internal sealed class Progress(Action<StepReport> report) : IProgress<StepReport>
{
    public void Report(StepReport value) => report(value);
}
