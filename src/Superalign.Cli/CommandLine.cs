using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Superalign.Experiments.Protocols;

namespace Superalign.Cli;

/// <summary>
/// <c>superalign</c>: <c>list</c> the protocols, <c>run</c> one from its defaults, a config file and <c>--set</c>
/// settings (optionally one shard of its units into a run directory, or its units in local processes), <c>merge</c> a
/// run directory's units into the result a single process writes, <c>plot</c> a result's charts, <c>tables</c> its
/// markdown tables (<see cref="TablesCommand"/>), <c>slurm</c> an sbatch array script for a run. A finished run or merge writes result.json, the charts and the summary tables. Every input
/// is checked before any work; a bad one is one line on stderr and exit code 2.
/// </summary>
public static partial class CommandLine
{
    /// <summary>Exit code of a bad command line or bad settings.</summary>
    public const int BadInput = 2;

    /// <summary>The result file a run or a merge writes in its output directory.</summary>
    public const string ResultFileName = Superalign.Charts.ProtocolResultFile.ResultFileName;

    /// <summary>Runs the command line <paramref name="args"/>, writing to <paramref name="output"/> and <paramref name="error"/>.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var root = Build(output, error);
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            error.WriteLine($"superalign: {parsed.Errors[0].Message} (superalign --help)");
            return BadInput;
        }
        return parsed.Invoke(new InvocationConfiguration { Output = output, Error = error });
    }

    private static RootCommand Build(TextWriter output, TextWriter error)
    {
        var root = new RootCommand("Superalign: run competence-conformity protocols, split into units that a run directory keeps and shards share.");

        var list = new Command("list", "List the protocols with a one-line summary.");
        list.SetAction(_ =>
        {
            foreach (var entry in ProtocolCatalog.All) output.WriteLine($"{entry.Name,-26} {entry.Summary}");
            return 0;
        });

        var protocol = new Argument<string>("protocol") { Description = "A protocol name (superalign list)." };
        var config = new Option<string?>("--config") { Description = "Options as JSON (as --write-config writes them); default: the protocol's defaults." };
        var set = new Option<string[]>("--set") { Description = "Set an option: key=value (value as JSON, else text; nested keys with '.'), repeatable.", AllowMultipleArgumentsPerToken = false };
        var seeds = new Option<string?>("--seeds") { Description = "Seeds: 0-19, 0,2,5 or 3 (sets the Seeds option)." };
        var outDir = new Option<string?>("--out") { Description = "Run directory: finished units are kept there (a killed run resumes) and result.json is written there." };
        var threads = new Option<int>("--threads") { Description = "Torch threads (1 is the fastest for the built-in models on small machines).", DefaultValueFactory = _ => 1 };
        var shard = new Option<string?>("--shard") { Description = "Run share i of N of the units (i/N, 0-based) into --out; default from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, else from JOB_COMPLETION_INDEX (a Kubernetes indexed Job) with SUPERALIGN_SHARD_COUNT, when set. Merge the shards with superalign merge." };
        var writeConfig = new Option<string?>("--write-config") { Description = "Write the effective options as JSON to this file and exit without running." };
        var jobs = new Option<int>("--jobs") { Description = "Run the units in this many local processes (each a shard), then merge them.", DefaultValueFactory = _ => 1 };
        var run = new Command("run", "Run a protocol.") { protocol, config, set, seeds, outDir, threads, shard, writeConfig, jobs };
        run.SetAction(parse => Guarded(error, () => RunProtocol(
            parse.GetValue(protocol)!, parse.GetValue(config), parse.GetValue(set) ?? [], parse.GetValue(seeds), parse.GetValue(outDir),
            parse.GetValue(threads), parse.GetValue(shard), parse.GetValue(writeConfig), parse.GetValue(jobs), output, error)));

        var mergeDir = new Argument<string>("directory") { Description = "A run directory whose units were computed by shards." };
        var merge = new Command("merge", "Rebuild the result of a run directory from its units (nothing is trained) and write result.json there.") { mergeDir };
        merge.SetAction(parse => Guarded(error, () => Merge(parse.GetValue(mergeDir)!, output, error)));

        var slurmProtocol = new Argument<string>("protocol") { Description = "A protocol name (superalign list)." };
        var slurmConfig = new Option<string?>("--config") { Description = "Options as JSON; default: the protocol's defaults." };
        var slurmSet = new Option<string[]>("--set") { Description = "Set an option: key=value, repeatable (as for run).", AllowMultipleArgumentsPerToken = false };
        var slurmSeeds = new Option<string?>("--seeds") { Description = "Seeds: 0-19, 0,2,5 or 3." };
        var slurmOut = new Option<string>("--out") { Description = "Run directory (on a file system every node sees): the options, the script and the units go there.", Required = true };
        var tasks = new Option<int>("--tasks") { Description = "Array tasks (shards); default: one per unit.", DefaultValueFactory = _ => 0 };
        var sbatch = new Option<string[]>("--sbatch") { Description = "Extra #SBATCH lines, e.g. --sbatch \"--time=01:00:00\", repeatable.", AllowMultipleArgumentsPerToken = false };
        var slurm = new Command("slurm", "Write an sbatch array script that runs a protocol's units as shards; merge the run directory when the array is done.")
            { slurmProtocol, slurmConfig, slurmSet, slurmSeeds, slurmOut, tasks, sbatch };
        slurm.SetAction(parse => Guarded(error, () => WriteSlurm(parse.GetValue(slurmProtocol)!, parse.GetValue(slurmConfig), parse.GetValue(slurmSet) ?? [],
            parse.GetValue(slurmSeeds), parse.GetValue(slurmOut)!, parse.GetValue(tasks), parse.GetValue(sbatch) ?? [], output)));

        root.Subcommands.Add(list);
        root.Subcommands.Add(run);
        root.Subcommands.Add(merge);
        root.Subcommands.Add(slurm);
        root.Subcommands.Add(PlotCommand.Build(output, error));
        root.Subcommands.Add(TablesCommand.Build(output, error));
        return root;
    }

    /// <summary>Bad input found while preparing: one line, exit 2.</summary>
    private sealed class BadInputException(string message) : Exception(message);

    private static int Guarded(TextWriter error, Func<int> action)
    {
        try
        {
            return action();
        }
        catch (BadInputException e)
        {
            error.WriteLine($"superalign: {e.Message}");
            return BadInput;
        }
    }

    private static int RunProtocol(string name, string? configPath, string[] settings, string? seedText, string? outDir, int threads,
        string? shardText, string? writeConfig, int jobs, TextWriter output, TextWriter error)
    {
        if (jobs < 1) throw new BadInputException($"--jobs must be >= 1; got {jobs}.");
        if (jobs > 1 && shardText is not null) throw new BadInputException("--jobs and --shard exclude each other: --jobs makes its own shards.");
        if (threads < 1) throw new BadInputException($"--threads must be >= 1; got {threads}.");
        var (entry, options, created) = Prepare(name, configPath, settings, seedText);
        var shard = Shard(shardText);
        if (shard is not null && outDir is null) throw new BadInputException("--shard needs --out: a shard's units are kept in the run directory for the merge.");
        if (writeConfig is not null)
        {
            File.WriteAllText(writeConfig, ProtocolJson.Serialize(options));
            output.WriteLine($"wrote {writeConfig}");
            return 0;
        }
        if (outDir is not null) CheckWritable(outDir);
        if (jobs > 1) return RunJobs(entry, options, created.Units.Count, jobs, outDir, threads, output, error);
        TorchSharp.torch.set_num_threads(threads);
        // A shard is a contiguous block of the units (a protocol lists a seed's units together, so a process that
        // computes several of them trains what they share once).
        var units = shard is { } s && Block(created.Units.Count, s) is var (first, count) ? created.Units.Skip(first).Take(count).ToList() : null;
        if (units is { Count: 0 }) throw new BadInputException($"shard {ShardText(shard)} has no units (the run has {created.Units.Count}).");
        if (shard is not null)
        {
            ProgressDisplay.Run(error, 1, _ => "", display =>
            {
                created.Compute(new ProtocolRun { Directory = outDir, Units = units }, display.Lane(0));
                return 0;
            });
            output.WriteLine($"shard {ShardText(shard)}: units {string.Join(", ", units!)} are in {outDir}; merge with: superalign merge {outDir}");
            return 0;
        }
        var result = ProgressDisplay.Run(error, 1, _ => "", display => created.Run(new ProtocolRun { Directory = outDir }, display.Lane(0)));
        // With a run directory the units (some perhaps read back, computed elsewhere) carry their own provenance.
        Finish(result, outDir ?? ".", output, error, outDir is null ? ResultProvenance.ForProcess(created.Units) : ResultProvenance.ForRunDirectory(outDir));
        return 0;
    }

    /// <summary>Shard i of N of <paramref name="units"/> units: the block [⌊i·U/N⌋, ⌊(i+1)·U/N⌋).</summary>
    internal static (int Start, int Count) Block(int units, (int Index, int Count) shard)
    {
        int start = (int)((long)shard.Index * units / shard.Count), end = (int)((long)(shard.Index + 1) * units / shard.Count);
        return (start, end - start);
    }

    /// <summary>
    /// What a finished run or a merge leaves: result.json with its provenance (this process's and its units'), the
    /// protocol's charts beside it (a chart that cannot be drawn is a warning: the result is kept and
    /// <c>superalign plot</c> can draw them later) and the summary tables.
    /// </summary>
    private static void Finish(IProtocolResult result, string directory, TextWriter output, TextWriter error, ResultProvenance provenance)
    {
        string resultPath = Path.Combine(directory, ResultFileName);
        ProtocolJson.Write((object)result, resultPath, provenance);
        output.WriteLine($"wrote {resultPath}");
        try
        {
            var charts = Superalign.Charts.ProtocolCharts.Write(result, directory);
            if (charts.Count > 0) output.WriteLine($"wrote {string.Join(", ", charts.Select(Path.GetFileName))} in {directory}");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            error.WriteLine($"superalign: warning: the charts were not drawn ({FirstLine(e.Message)}); draw them with: superalign plot {resultPath}");
        }
        Report(result, output);
    }

    /// <summary>The summary tables of <paramref name="result"/> after a blank line (a result no report knows prints nothing).</summary>
    private static void Report(IProtocolResult result, TextWriter output)
    {
        output.WriteLine();
        Reports.ProtocolReports.Write(result, output);
    }

    /// <summary>
    /// <paramref name="jobs"/> child processes of this command line, each running shard i/jobs of the units into the run
    /// directory, then the merge here. Without <c>--out</c> the run directory is a temporary one and result.json goes
    /// to the current directory, as a single process would write it.
    /// </summary>
    private static int RunJobs(ProtocolEntry entry, IProtocolOptions options, int units, int jobs, string? outDir, int threads, TextWriter output, TextWriter error)
    {
        jobs = Math.Min(jobs, units);
        string runDir = outDir ?? Directory.CreateTempSubdirectory("superalign-jobs-").FullName;
        string config = Path.Combine(runDir, ".jobs-options.json");
        File.WriteAllText(config, ProtocolJson.Serialize(options));
        string cli = typeof(CommandLine).Assembly.Location;
        string host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h ? h : "dotnet";
        int failed = ProgressDisplay.Run(error, jobs, i => $"[job {i}]", display =>
        {
            var children = new List<(int Index, System.Diagnostics.Process Process, Task Forward)>();
            for (int i = 0; i < jobs; i++)
            {
                var start = new System.Diagnostics.ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
                foreach (var a in new[] { cli, "run", entry.Name, "--config", config, "--out", runDir, "--shard", $"{i}/{jobs}", "--threads", threads.ToString(CultureInfo.InvariantCulture) })
                    start.ArgumentList.Add(a);
                var process = System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException($"Could not start {host} {cli}.");
                int index = i;
                // A child's progress lines move its lane; its other lines are shown as they are.
                var forward = Task.WhenAll(
                    Task.Run(async () =>
                    {
                        while (await process.StandardError.ReadLineAsync() is { } line)
                        {
                            if (ProgressDisplay.TryParse(line, out var p)) display.Report(index, p);
                            else display.WriteLine(index, line);
                        }
                    }),
                    Task.Run(async () => { while (await process.StandardOutput.ReadLineAsync() is not null) { } }));
                children.Add((i, process, forward));
            }
            int failures = 0;
            foreach (var (index, process, forward) in children)
            {
                process.WaitForExit();
                forward.Wait();
                if (process.ExitCode != 0)
                {
                    failures++;
                    display.WriteLine(index, $"superalign: job {index} exited with code {process.ExitCode}; its finished units are kept in {runDir}, run again to finish.");
                }
                process.Dispose();
            }
            return failures;
        });
        File.Delete(config);
        if (failed > 0) return 1;
        string resultDir = outDir ?? ".";
        int code = Merge(runDir, output, error, resultDir);
        if (outDir is null) Directory.Delete(runDir, recursive: true);
        return code;
    }

    /// <summary>The file name of the sbatch script <c>slurm</c> writes in the run directory.</summary>
    public const string SlurmScriptName = "submit.sbatch";

    /// <summary>The options file <c>slurm</c> writes in the run directory for the array's tasks.</summary>
    public const string SlurmOptionsName = "options.json";

    private static int WriteSlurm(string name, string? configPath, string[] settings, string? seedText, string outDir, int tasks, string[] extra, TextWriter output)
    {
        var (entry, options, created) = Prepare(name, configPath, settings, seedText);
        int units = created.Units.Count;
        if (tasks < 0 || tasks > units) throw new BadInputException($"--tasks must be in [1, {units}] (the run's units), or 0 for one per unit; got {tasks}.");
        if (tasks == 0) tasks = units;
        foreach (var line in extra)
            if (line.Contains('\n') || !line.StartsWith("--", StringComparison.Ordinal)) throw new BadInputException($"--sbatch {line}: expected one sbatch option such as --time=01:00:00.");
        CheckWritable(outDir);
        string dir = Path.GetFullPath(outDir);
        File.WriteAllText(Path.Combine(dir, SlurmOptionsName), ProtocolJson.Serialize(options));
        string cli = typeof(CommandLine).Assembly.Location;
        var script = new System.Text.StringBuilder();
        script.Append("#!/usr/bin/env bash\n");
        script.Append($"#SBATCH --job-name=superalign-{entry.Name}\n");
        script.Append($"#SBATCH --array=0-{tasks - 1}\n");
        script.Append("#SBATCH --ntasks=1\n");
        script.Append("#SBATCH --cpus-per-task=1\n");
        script.Append($"#SBATCH --output={dir}/slurm-%A_%a.out\n");
        foreach (var line in extra) script.Append($"#SBATCH {line}\n");
        script.Append("# Each array task runs its shard of the units into the run directory (the shard comes from\n");
        script.Append("# SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT); a resubmitted array finishes only the missing units.\n");
        script.Append($"# When every task is done: dotnet {Quote(cli)} merge {Quote(dir)}\n");
        script.Append("set -euo pipefail\n");
        script.Append($"exec dotnet {Quote(cli)} run {Quote(entry.Name)} --config {Quote(Path.Combine(dir, SlurmOptionsName))} --out {Quote(dir)} --threads \"${{SLURM_CPUS_PER_TASK:-1}}\"\n");
        string path = Path.Combine(dir, SlurmScriptName);
        File.WriteAllText(path, script.ToString());
        output.WriteLine($"wrote {path}: sbatch {path}; then: dotnet {cli} merge {dir}");
        return 0;
    }

    private static string Quote(string text) => "'" + text.Replace("'", "'\\''") + "'";

    private static string ShardText((int Index, int Count)? shard) => shard is { } s ? $"{s.Index}/{s.Count}" : "";

    private static int Merge(string directory, TextWriter output, TextWriter error, string? resultDirectory = null)
    {
        string manifest = Path.Combine(directory, ProtocolUnitStore.ManifestFileName);
        if (!File.Exists(manifest)) throw new BadInputException($"{manifest} does not exist: not a run directory (superalign run --out writes one).");
        JsonNode description;
        try
        {
            description = JsonNode.Parse(File.ReadAllText(manifest)) ?? throw new JsonException("empty");
        }
        catch (JsonException e)
        {
            throw new BadInputException($"{manifest} is not valid JSON: {FirstLine(e.Message)}");
        }
        string name = description["protocol"]?.GetValue<string>() ?? throw new BadInputException($"{manifest} names no protocol.");
        var entry = ProtocolCatalog.All.FirstOrDefault(e => e.Name == name) ?? throw new BadInputException($"{manifest} names an unknown protocol '{name}'.");
        var options = entry.ReadOptions(description["options"]?.ToJsonString() ?? throw new BadInputException($"{manifest} holds no options."));
        var protocol = entry.Create(options);
        IProtocolResult result;
        try
        {
            result = protocol.Run(new ProtocolRun { Directory = directory, ComputeMissing = false, ExternalInputs = description["externalInputs"]?.GetValue<string>() });
        }
        catch (InvalidOperationException e)
        {
            throw new BadInputException(FirstLine(e.Message));
        }
        Finish(result, resultDirectory ?? directory, output, error, ResultProvenance.ForRunDirectory(directory));
        return 0;
    }

    /// <summary>The protocol <paramref name="name"/>, its effective options (<see cref="Options"/>), and the protocol built (and so validated) from them.</summary>
    private static (ProtocolEntry Entry, IProtocolOptions Options, IProtocol Protocol) Prepare(string name, string? configPath, IReadOnlyList<string> settings, string? seedText)
    {
        var entry = ProtocolCatalog.All.FirstOrDefault(e => e.Name == name)
            ?? throw new BadInputException($"unknown protocol '{name}'; known: {string.Join(", ", ProtocolCatalog.All.Select(e => e.Name))}.");
        var options = Options(entry, configPath, settings, seedText);
        try
        {
            return (entry, options, entry.Create(options));
        }
        catch (ArgumentException e)
        {
            throw new BadInputException($"invalid options: {FirstLine(e.Message)}");
        }
    }

    /// <summary>The options: the defaults or the config file, then --seeds, then each --set in order.</summary>
    internal static IProtocolOptions Options(ProtocolEntry entry, string? configPath, IReadOnlyList<string> settings, string? seedText)
    {
        string json;
        if (configPath is null)
        {
            json = ProtocolJson.Serialize(entry.DefaultOptions());
        }
        else
        {
            if (!File.Exists(configPath)) throw new BadInputException($"--config: {configPath} does not exist.");
            json = File.ReadAllText(configPath);
        }
        JsonObject node;
        try
        {
            node = JsonNode.Parse(json) as JsonObject ?? throw new JsonException("the options must be a JSON object");
        }
        catch (JsonException e)
        {
            throw new BadInputException($"--config: {configPath} is not valid JSON: {FirstLine(e.Message)}");
        }
        if (seedText is not null) Set(node, "Seeds", new JsonArray(ParseSeeds(seedText).Select(s => (JsonNode?)JsonValue.Create(s)).ToArray()), "--seeds");
        foreach (var setting in settings)
        {
            int eq = setting.IndexOf('=');
            if (eq <= 0) throw new BadInputException($"--set {setting}: expected key=value.");
            string key = setting[..eq], text = setting[(eq + 1)..];
            JsonNode? value;
            try
            {
                value = JsonNode.Parse(text);
            }
            catch (JsonException)
            {
                value = JsonValue.Create(text);
            }
            Set(node, key, value, $"--set {key}", OptionNames(entry.OptionsType));
        }
        try
        {
            return entry.ReadOptions(node.ToJsonString());
        }
        catch (Exception e) when (e is JsonException or ArgumentException or NotSupportedException or InvalidOperationException)
        {
            throw new BadInputException($"the options do not read back as {entry.OptionsType.Name}: {FirstLine(e.Message)}");
        }
    }

    /// <summary>Sets <paramref name="path"/> (keys joined by '.', matched ignoring case) in <paramref name="node"/>; the key must exist.</summary>
    /// <param name="topLevel">Every top-level option name of the options type, also those the JSON leaves out while
    /// unset (null): they can be set although the defaults' JSON does not hold them.</param>
    private static void Set(JsonObject node, string path, JsonNode? value, string what, IReadOnlyList<string>? topLevel = null)
    {
        var parts = path.Split('.');
        var current = node;
        for (int i = 0; i < parts.Length; i++)
        {
            var names = i == 0 && topLevel is not null ? current.Select(p => p.Key).Union(topLevel).ToList() : current.Select(p => p.Key).ToList();
            string? key = names.FirstOrDefault(k => string.Equals(k, parts[i], StringComparison.OrdinalIgnoreCase));
            if (key is null)
                throw new BadInputException($"{what}: no option '{string.Join('.', parts[..(i + 1)])}'; options here: {string.Join(", ", names)}.");
            if (i == parts.Length - 1)
            {
                current[key] = value;
                return;
            }
            current = current[key] as JsonObject ?? throw new BadInputException($"{what}: '{string.Join('.', parts[..(i + 1)])}' is not an object of options.");
        }
    }

    /// <summary>The JSON names of the options type's properties (as <see cref="ProtocolJson.Options"/> writes them).</summary>
    private static IReadOnlyList<string> OptionNames(Type optionsType) =>
        ProtocolJson.Options.GetTypeInfo(optionsType).Properties.Select(p => p.Name).ToList();

    /// <summary>Seeds from <c>0-19</c>, <c>0,2,5</c> or <c>3</c>.</summary>
    internal static IReadOnlyList<int> ParseSeeds(string text)
    {
        var seeds = new List<int>();
        foreach (var part in text.Split(','))
        {
            var range = part.Split('-');
            if (range.Length == 1 && int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int one)) seeds.Add(one);
            else if (range.Length == 2 && int.TryParse(range[0], NumberStyles.None, CultureInfo.InvariantCulture, out int from)
                     && int.TryParse(range[1], NumberStyles.None, CultureInfo.InvariantCulture, out int to) && from <= to && to - from < 100_000)
                seeds.AddRange(Enumerable.Range(from, to - from + 1));
            else throw new BadInputException($"--seeds {text}: expected seeds like 0-19, 0,2,5 or 3 (non-negative, ranges low-high).");
        }
        if (seeds.Distinct().Count() != seeds.Count) throw new BadInputException($"--seeds {text}: a seed is repeated.");
        return seeds;
    }

    /// <summary>The environment variable that gives the shard count to a Kubernetes indexed Job's pods.</summary>
    public const string ShardCountVariable = "SUPERALIGN_SHARD_COUNT";

    /// <summary>
    /// The shard from <c>--shard i/N</c>; else from Slurm's array variables (<c>SLURM_ARRAY_TASK_ID</c>/<c>SLURM_ARRAY_TASK_COUNT</c>);
    /// else from a Kubernetes indexed Job's <c>JOB_COMPLETION_INDEX</c> with the count from <see cref="ShardCountVariable"/>
    /// (Kubernetes does not put the Job's completions in the environment); else none.
    /// </summary>
    internal static (int Index, int Count)? Shard(string? text) => Shard(text, Environment.GetEnvironmentVariable);

    /// <summary><see cref="Shard(string?)"/> with the environment read through <paramref name="environment"/>.</summary>
    internal static (int Index, int Count)? Shard(string? text, Func<string, string?> environment)
    {
        string source = "--shard ";
        if (text is null)
        {
            string? id = environment("SLURM_ARRAY_TASK_ID"), count = environment("SLURM_ARRAY_TASK_COUNT");
            string? index = environment("JOB_COMPLETION_INDEX"), shards = environment(ShardCountVariable);
            if (id is not null && count is not null)
            {
                (text, source) = ($"{id}/{count}", "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT = ");
            }
            else if (index is not null)
            {
                if (shards is null)
                    throw new BadInputException($"JOB_COMPLETION_INDEX={index} (a Kubernetes indexed Job) gives this shard's index but not the count: set {ShardCountVariable} to the Job's completions, or pass --shard i/N.");
                (text, source) = ($"{index}/{shards}", $"JOB_COMPLETION_INDEX/{ShardCountVariable} = ");
            }
            else if (shards is not null)
            {
                throw new BadInputException($"{ShardCountVariable}={shards} is set but no shard index is (JOB_COMPLETION_INDEX, set by a Kubernetes indexed Job): pass --shard i/N, or unset it to run every unit.");
            }
            else
            {
                return null;
            }
        }
        var parts = text.Split('/');
        if (parts.Length == 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int i)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 1 && i < n)
            return (i, n);
        throw new BadInputException($"{source}{text}: expected i/N with 0 <= i < N (e.g. 0/4).");
    }

    private static void CheckWritable(string directory)
    {
        try
        {
            Directory.CreateDirectory(directory);
            string probe = Path.Combine(directory, $".write-probe.{Environment.ProcessId}.tmp");
            File.WriteAllBytes(probe, [1]);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BadInputException($"--out {directory}: cannot write there ({FirstLine(e.Message)}).");
        }
    }

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();
}
