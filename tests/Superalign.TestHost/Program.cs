// Test host: runs one catalog protocol with a run directory, printing each progress report on its own line, and
// writes the result as JSON. Used by the tests that kill a run and resume it (ProtocolKillTests).
//
//   dotnet Superalign.TestHost.dll run <protocol> <options.json> <run-directory> <result.json>
//
// Runs on one TorchSharp thread, like the in-process tests, so that its results match theirs bit for bit.
using Superalign.Experiments.Protocols;
using TorchSharp;

if (args.Length != 5 || args[0] != "run")
{
    Console.Error.WriteLine("usage: Superalign.TestHost run <protocol> <options.json> <run-directory> <result.json>");
    return 2;
}
torch.set_num_threads(1);
var entry = ProtocolCatalog.Find(args[1]);
var protocol = entry.Create(entry.ReadOptions(File.ReadAllText(args[2])));
var result = protocol.Run(new ProtocolRun { Directory = args[3] }, new LineProgress());
ProtocolJson.Write((object)result, args[4]);
Console.WriteLine("finished");
return 0;

/// <summary>Writes each report at once (System.Progress would post it to the thread pool).</summary>
internal sealed class LineProgress : IProgress<ProtocolProgress>
{
    public void Report(ProtocolProgress value)
    {
        Console.WriteLine(value.ToString());
        Console.Out.Flush();
    }
}
