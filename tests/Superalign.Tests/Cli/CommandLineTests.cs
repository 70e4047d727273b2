using System.Text.Json;
using System.Text.Json.Nodes;
using Superalign.Cli;
using Superalign.Experiments.Protocols;
using Superalign.Tests.Experiments;
using Xunit;

namespace Superalign.Tests.Cli;

/// <summary>The command line, in process: settings, config files, shards and their merge, and bad input.</summary>
public sealed class CommandLineTests
{
    internal static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        int code = CommandLine.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    internal static string WithoutTimings(string resultPath)
    {
        var entry = ProtocolCatalog.Find(Sandwiching.ProtocolName);
        var result = (IProtocolResult)ProtocolJson.Deserialize(File.ReadAllText(resultPath), entry.ResultType);
        return ResumeTestKit.WithoutTimings(result);
    }

    /// <summary>The tiny sandwiching options of the resume tests, as the --set settings that make them from the defaults.</summary>
    internal static string[] TinySettings()
    {
        var tiny = (JsonObject)JsonNode.Parse(JsonSerializer.Serialize(ResumeTestKit.TinyOptions(Sandwiching.ProtocolName), typeof(SandwichingOptions), ProtocolJson.Options))!;
        return tiny.Where(p => p.Key != "seeds").SelectMany(p => new[] { "--set", $"{p.Key}={p.Value!.ToJsonString()}" }).ToArray();
    }

    [Fact]
    public void A_written_config_reads_back_to_the_same_options_and_settings_are_applied()
    {
        using var dir = new ResumeTestKit.TempDirectory();
        string config = Path.Combine(dir.Path, "sandwiching.json");
        var (code, _, err) = Run(["run", "sandwiching", .. TinySettings(), "--seeds", "0-2,7", "--set", "task.seed=5", "--write-config", config]);
        Assert.True(code == 0, err);
        var read = (SandwichingOptions)ProtocolCatalog.Find("sandwiching").ReadOptions(File.ReadAllText(config));
        Assert.Equal([0, 1, 2, 7], read.Seeds);
        Assert.Equal(300, read.TrainSize);
        Assert.Equal(5, read.Task.Seed);
        // Through a config file and back: the same bytes.
        string again = Path.Combine(dir.Path, "again.json");
        Assert.Equal(0, Run("run", "sandwiching", "--config", config, "--write-config", again).Code);
        Assert.Equal(File.ReadAllText(config), File.ReadAllText(again));
    }

    public static TheoryData<string> ProtocolNames() => new(ProtocolCatalog.All.Select(e => e.Name));

    [Theory]
    [MemberData(nameof(ProtocolNames))]
    public void Every_protocol_config_written_by_the_command_line_reads_back_to_equal_options(string name)
    {
        using var dir = new ResumeTestKit.TempDirectory();
        var entry = ProtocolCatalog.Find(name);
        string first = Path.Combine(dir.Path, "first.json"), second = Path.Combine(dir.Path, "second.json");
        string[] extra = [];
        if (name == CoOptimizationComparison.ProtocolName)
        {
            // Schedules are data in the file: the conflict-aware list (modes, annealing, searches) goes through --set.
            var schedules = JsonNode.Parse(ProtocolJson.Serialize(new CoOptimizationOptions { Schedules = ScheduleCandidate.ConflictAware(), ProbePrompts = 16 }))!["schedules"]!;
            extra = ["--set", $"schedules={schedules.ToJsonString()}", "--set", "probePrompts=16"];
        }
        var (code, _, err) = Run(["run", name, "--seeds", "3,5", .. extra, "--write-config", first]);
        Assert.True(code == 0, err);
        var read = entry.ReadOptions(File.ReadAllText(first));
        Assert.IsType(entry.OptionsType, read);
        Assert.True(JsonNode.DeepEquals(new JsonArray(3, 5), JsonNode.Parse(ProtocolJson.Serialize(read))!["seeds"]));
        read.Validate();
        // Nothing but the seeds (and the schedules) differs from the defaults, and a second pass writes the same bytes.
        var expected = (JsonObject)JsonNode.Parse(ProtocolJson.Serialize(entry.DefaultOptions()))!;
        expected["seeds"] = new JsonArray(3, 5);
        var written = (JsonObject)JsonNode.Parse(File.ReadAllText(first))!;
        foreach (var (key, value) in expected.Where(p => p.Key != "schedules" && p.Key != "probePrompts"))
            Assert.True(JsonNode.DeepEquals(value, written[key]), $"{name}: option '{key}' was {written[key]?.ToJsonString()}, expected {value?.ToJsonString()}");
        Assert.Equal(expected.Count, written.Count);
        Assert.Equal(0, Run("run", name, "--config", first, "--write-config", second).Code);
        Assert.Equal(File.ReadAllText(first), File.ReadAllText(second));
        if (read is CoOptimizationOptions co)
        {
            var wanted = ScheduleCandidate.ConflictAware();
            Assert.Equal(wanted.Select(c => (c.Name, c.ConflictMode, c.Search is null)), co.Schedules.Select(c => (c.Name, c.ConflictMode, c.Search is null)));
            for (int i = 0; i < wanted.Count; i++)
                for (long step = 0; step < 120; step++) Assert.Equal(wanted[i].Schedule.Plan(step, 120), co.Schedules[i].Schedule.Plan(step, 120));
        }
    }

    [Fact]
    public void Set_reaches_an_option_the_json_leaves_out_while_unset_and_still_refuses_unknown_names()
    {
        using var dir = new ResumeTestKit.TempDirectory();
        string config = Path.Combine(dir.Path, "w2s.json");
        Assert.DoesNotContain("trustedExamples", JsonSerializer.Serialize(new WeakToStrongOptions(), ProtocolJson.Options));
        var (code, _, err) = Run("run", "weak-to-strong", "--set", "competenceLoss=reweight", "--set", "trustedExamples=64", "--write-config", config);
        Assert.True(code == 0, err);
        var read = (WeakToStrongOptions)ProtocolCatalog.Find("weak-to-strong").ReadOptions(File.ReadAllText(config));
        Assert.Equal(64, read.TrustedExamples);
        Assert.Equal("reweight", read.CompetenceLoss);
        var bad = Run("run", "weak-to-strong", "--set", "trustedExampels=64", "--write-config", config);
        Assert.Equal(CommandLine.BadInput, bad.Code);
        Assert.Contains("no option 'trustedExampels'", bad.Err);
        Assert.Contains("trustedExamples", bad.Err);
    }

    [Fact]
    public void Shards_merged_give_the_result_of_one_process()
    {
        using var dir = new ResumeTestKit.TempDirectory();
        string whole = Path.Combine(dir.Path, "whole"), sharded = Path.Combine(dir.Path, "sharded");
        string[] common = ["run", "sandwiching", .. TinySettings(), "--seeds", "1-3"];
        var one = Run([.. common, "--out", whole]);
        Assert.True(one.Code == 0, one.Err);
        // One process prints the report after writing result.json; a shard prints none; the merge prints the same report.
        const string tableHeader = "condition                mean accuracy";
        Assert.Contains(tableHeader, one.Out);
        foreach (var shard in new[] { "0/2", "1/2" })
        {
            var part = Run([.. common, "--out", sharded, "--shard", shard]);
            Assert.True(part.Code == 0, part.Err);
            Assert.DoesNotContain(tableHeader, part.Out);
            Assert.False(File.Exists(Path.Combine(sharded, CommandLine.ResultFileName)));
        }
        Assert.Equal(3, Directory.GetFiles(Path.Combine(sharded, ProtocolUnitStore.UnitsFolderName), "*.json").Length);
        var merged = Run("merge", sharded);
        Assert.True(merged.Code == 0, merged.Err);
        Assert.Contains(tableHeader, merged.Out);
        Assert.Equal(TableRows(one.Out), TableRows(merged.Out));
        Assert.Equal(WithoutTimings(Path.Combine(whole, CommandLine.ResultFileName)), WithoutTimings(Path.Combine(sharded, CommandLine.ResultFileName)));
    }

    /// <summary>The report's lines that hold no timing (a seed line ends with its wall time).</summary>
    private static string[] TableRows(string output) =>
        output.Split('\n').Where(l => !l.StartsWith("wrote ", StringComparison.Ordinal) && !l.TrimEnd().EndsWith(" s)", StringComparison.Ordinal)).ToArray();

    [Fact]
    public void Jobs_in_child_processes_give_the_result_of_one_process()
    {
        using var dir = new ResumeTestKit.TempDirectory();
        string whole = Path.Combine(dir.Path, "whole"), jobs = Path.Combine(dir.Path, "jobs");
        string[] common = ["run", "sandwiching", .. TinySettings(), "--seeds", "1-3"];
        var one = Run([.. common, "--out", whole]);
        Assert.True(one.Code == 0, one.Err);
        var two = Run([.. common, "--out", jobs, "--jobs", "2"]);
        Assert.True(two.Code == 0, two.Err);
        // Both children reported progress (their lines are forwarded with the job's index).
        Assert.Contains("[job 0]", two.Err);
        Assert.Contains("[job 1]", two.Err);
        Assert.Equal(WithoutTimings(Path.Combine(whole, CommandLine.ResultFileName)), WithoutTimings(Path.Combine(jobs, CommandLine.ResultFileName)));
    }

    [Fact]
    public async Task The_sbatch_script_run_as_an_array_merges_to_the_result_of_one_process()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var dir = new ResumeTestKit.TempDirectory();
        string runDir = Path.Combine(dir.Path, "array"), whole = Path.Combine(dir.Path, "whole");
        var written = Run(["slurm", "sandwiching", .. TinySettings(), "--seeds", "1-3", "--out", runDir, "--tasks", "2", "--sbatch", "--time=00:10:00"]);
        Assert.True(written.Code == 0, written.Err);
        string script = Path.Combine(runDir, CommandLine.SlurmScriptName);
        string text = File.ReadAllText(script);
        Assert.Contains("#SBATCH --array=0-1", text);
        Assert.Contains("#SBATCH --time=00:10:00", text);
        // What Slurm does for each array task: run the script with the task's variables set.
        for (int task = 0; task < 2; task++)
        {
            var start = new System.Diagnostics.ProcessStartInfo("bash", [script]) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            start.Environment["SLURM_ARRAY_TASK_ID"] = task.ToString(System.Globalization.CultureInfo.InvariantCulture);
            start.Environment["SLURM_ARRAY_TASK_COUNT"] = "2";
            using var process = System.Diagnostics.Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"task {task}: {await stderr}");
        }
        Assert.Equal(0, Run("merge", runDir).Code);
        Assert.Equal(0, Run("run", "sandwiching", "--config", Path.Combine(runDir, CommandLine.SlurmOptionsName), "--out", whole).Code);
        Assert.Equal(WithoutTimings(Path.Combine(whole, CommandLine.ResultFileName)), WithoutTimings(Path.Combine(runDir, CommandLine.ResultFileName)));
    }

    [Theory]
    [InlineData("--tasks must be", "slurm", "sandwiching", "--seeds", "1-3", "--out", "x", "--tasks", "4")]
    [InlineData("--sbatch time", "slurm", "sandwiching", "--out", "x", "--sbatch", "time")]
    [InlineData("--out", "slurm", "sandwiching")]
    [InlineData("--jobs and --shard", "run", "sandwiching", "--jobs", "2", "--shard", "0/2", "--out", "x")]
    [InlineData("--jobs must be", "run", "sandwiching", "--jobs", "0")]
    [InlineData("unknown protocol", "run", "nope")]
    [InlineData("no option 'Nope'", "run", "sandwiching", "--set", "Nope=1")]
    [InlineData("expected key=value", "run", "sandwiching", "--set", "seeds")]
    [InlineData("--seeds 3-1", "run", "sandwiching", "--seeds", "3-1")]
    [InlineData("--seeds 1,1", "run", "sandwiching", "--seeds", "1,1")]
    [InlineData("TrainSize", "run", "sandwiching", "--set", "trainSize=-5")]
    [InlineData("--shard 2/2", "run", "sandwiching", "--out", "x", "--shard", "2/2")]
    [InlineData("--shard needs --out", "run", "sandwiching", "--shard", "0/2")]
    [InlineData("--threads", "run", "sandwiching", "--threads", "0")]
    [InlineData("--config", "run", "sandwiching", "--config", "/nonexistent/c.json")]
    [InlineData("not a run directory", "merge", "/nonexistent/run")]
    [InlineData("Unrecognized", "run", "sandwiching", "--bogus")]
    public void Bad_input_is_one_line_and_exit_code_2_before_any_work(string expected, params string[] args)
    {
        var (code, output, error) = Run(args);
        Assert.Equal(CommandLine.BadInput, code);
        Assert.Equal("", output);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains(expected, lines[0]);
    }

    [Fact]
    public void List_names_every_protocol()
    {
        var (code, output, _) = Run("list");
        Assert.Equal(0, code);
        Assert.All(ProtocolCatalog.All, e => Assert.Contains(e.Name, output));
    }
}
