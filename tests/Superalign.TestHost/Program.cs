// Test host: the child process of the tests that kill a run with SIGKILL and resume it.
//
//   dotnet Superalign.TestHost.dll run <protocol> <options.json> <run-directory> <result.json>
//     Runs one catalog protocol with a run directory, printing each progress report on its own line, and writes the
//     result as JSON (ProtocolKillTests).
//   dotnet Superalign.TestHost.dll train <scenario> <checkpoint-dir> <final-state-file> [every]
//     Trains a TrainingScenario with a checkpoint every N updates (default 4), resuming from the newest valid one;
//     prints "resumed N" once and "step N" after every update, then writes the final run state (KillResumeTests).
//
// Runs on one TorchSharp thread, like the in-process tests, so that its results match theirs bit for bit.
using Superalign.Experiments.Protocols;
using Superalign.Optimization;
using Superalign.TestHost;
using TorchSharp;

if (args.Length >= 4 && args[0] == "train" && TrainingScenario.Names.Contains(args[1]))
{
    torch.set_num_threads(1);
    return Train(args[1], args[2], args[3], args.Length > 4 ? long.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture) : 4);
}
if (args.Length != 5 || args[0] != "run")
{
    Console.Error.WriteLine("usage: Superalign.TestHost run <protocol> <options.json> <run-directory> <result.json>");
    Console.Error.WriteLine($"       Superalign.TestHost train <{string.Join("|", TrainingScenario.Names)}> <checkpoint-dir> <final-state-file> [every]");
    return 2;
}
torch.set_num_threads(1);
var entry = ProtocolCatalog.Find(args[1]);
var protocol = entry.Create(entry.ReadOptions(File.ReadAllText(args[2])));
var result = protocol.Run(new ProtocolRun { Directory = args[3] }, new LineProgress());
ProtocolJson.Write((object)result, args[4]);
Console.WriteLine("finished");
return 0;

static int Train(string scenarioName, string directory, string final, long every)
{
    using var scenario = TrainingScenario.Create(scenarioName);
    bool first = true;
    scenario.Train(new TrainingCheckpoints(directory) { Every = every }, new StepLines(report =>
    {
        if (first) Console.Out.WriteLine($"resumed {report.Step}");
        first = false;
        Console.Out.WriteLine($"step {report.Step + 1}");
        Console.Out.Flush();
    }));
    scenario.Optimizer.SaveCheckpoint(final, scenario.Competence, scenario.Conformity);
    Console.Out.WriteLine("done");
    return 0;
}

/// <summary>A synchronous progress sink for steps (System.Progress posts to the thread pool, which would reorder lines).</summary>
internal sealed class StepLines(Action<StepReport> report) : IProgress<StepReport>
{
    public void Report(StepReport value) => report(value);
}

/// <summary>Writes each report at once (System.Progress would post it to the thread pool).</summary>
internal sealed class LineProgress : IProgress<ProtocolProgress>
{
    public void Report(ProtocolProgress value)
    {
        Console.WriteLine(value.ToString());
        Console.Out.Flush();
    }
}
