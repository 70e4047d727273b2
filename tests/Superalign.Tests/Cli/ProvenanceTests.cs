using System.Text.Json.Nodes;
using Superalign.Charts;
using Superalign.Cli;
using Superalign.Experiments.Protocols;
using Superalign.Tests.Docs;
using Superalign.Tests.Experiments;
using Xunit;
using static Superalign.Tests.Cli.CommandLineTests;

namespace Superalign.Tests.Cli;

/// <summary>
/// result.json records where it and its units were computed (<see cref="ResultProvenance"/>): after a run, after a merge
/// of shards, with units of an older version that recorded none, and with units computed in two environments.
/// </summary>
public sealed class ProvenanceTests
{
    private static string[] Tiny(string outDir, params string[] extra) => ["run", "sandwiching", .. TinySettings(), "--seeds", "1-3", "--out", outDir, .. extra];

    private static void AssertFilled(RunProvenance p)
    {
        Assert.False(string.IsNullOrWhiteSpace(p.CpuModel));
        Assert.NotEqual(RunProvenance.Unknown, p.CpuModel);
        Assert.NotEqual(RunProvenance.Unknown, p.VectorExtensions);
        Assert.True(p.LogicalProcessors >= 1, $"logical processors {p.LogicalProcessors}");
        Assert.True(p.TorchThreads >= 1, $"torch threads {p.TorchThreads}");
        foreach (var (name, value) in new[] { ("OS", p.OperatingSystem), (".NET", p.DotNet), ("TorchSharp", p.TorchSharp), ("libtorch", p.LibTorch), ("Superalign", p.SuperalignVersion) })
        {
            Assert.False(string.IsNullOrWhiteSpace(value), $"{name} is empty");
            Assert.True(value != RunProvenance.Unknown, $"{name} is unknown");
        }
        Assert.Matches("^[0-9]+\\.", p.TorchSharp);
        Assert.Matches("^[0-9]+\\.", p.LibTorch);
        // The SDK appends the commit to the informational version when it builds in a git clone (CI builds from one).
        if (Directory.Exists(Path.Combine(ReadmeTests.RepoRoot(), ".git"))) Assert.Matches("^[0-9a-f]{40}$", p.SuperalignCommit);
        else Assert.Equal(RunProvenance.Unknown, p.SuperalignCommit);
        Assert.True(DateTimeOffset.UtcNow - p.TimeUtc < TimeSpan.FromHours(1) && p.TimeUtc.Offset == TimeSpan.Zero, $"time {p.TimeUtc:O}");
    }

    [Fact]
    public void Capture_fills_every_field_on_this_machine()
    {
        var p = RunProvenance.Capture();
        AssertFilled(p);
        Assert.Equal(Environment.ProcessorCount, p.LogicalProcessors);
        Assert.Equal(TorchSharp.torch.get_num_threads(), p.TorchThreads);
        Assert.Contains(p.CpuModel, p.Describe());
        Assert.True(p.SameEnvironment(p with { TimeUtc = p.TimeUtc.AddDays(1) }));
        Assert.False(p.SameEnvironment(p with { TorchThreads = p.TorchThreads + 1 }));
    }

    [Fact]
    public void The_cpu_model_is_the_first_model_name_of_cpuinfo()
    {
        Assert.Equal("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz",
            RunProvenance.CpuModelFromCpuInfo("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Platinum  8375C CPU @ 2.90GHz\nflags\t: fpu\n\nprocessor\t: 1\nmodel name\t: Other\n"));
        Assert.Equal("Neoverse-N1", RunProvenance.CpuModelFromCpuInfo("Model name: Neoverse-N1\n"));
        Assert.Null(RunProvenance.CpuModelFromCpuInfo("processor\t: 0\nmodel name\t:\n"));
    }

    [Fact]
    public void A_run_records_its_process_and_its_units_and_the_result_still_reads_back()
    {
        using var dir = new ResumeTestKit.TempDirectory();
        string run = Path.Combine(dir.Path, "run");
        var (code, _, err) = CommandLineTests.Run([.. Tiny(run), "--threads", "1"]);
        Assert.True(code == 0, err);
        string file = Path.Combine(run, CommandLine.ResultFileName);
        var provenance = ResultProvenance.Read(file) ?? throw new Xunit.Sdk.XunitException("result.json holds no provenance");
        AssertFilled(provenance.Written);
        var group = Assert.Single(provenance.Units);
        Assert.Equal(["seed-1", "seed-2", "seed-3"], group.Units);
        Assert.Equal(1, group.Provenance.TorchThreads);
        AssertFilled(group.Provenance);
        Assert.Empty(provenance.UnitsWithoutProvenance);
        // Every unit file carries the provenance of the process that computed it.
        Assert.NotNull(ProtocolUnitStore.ReadProvenance(run, "seed-2"));
        // The result record reads back (the provenance is ignored), also without the run directory's run.json beside it.
        string alone = Path.Combine(dir.Path, "alone");
        Directory.CreateDirectory(alone);
        File.Copy(file, Path.Combine(alone, CommandLine.ResultFileName));
        var read = Assert.Single(ProtocolResultFile.Read(alone));
        Assert.Equal(Sandwiching.ProtocolName, read.Entry.Name);
        Assert.Equal(WithoutTimings(file), ResumeTestKit.WithoutTimings(read.Result));
    }

    [Fact]
    public void A_merge_lists_its_units_environments_and_units_without_one_still_merge()
    {
        using var dir = new ResumeTestKit.TempDirectory();
        string sharded = Path.Combine(dir.Path, "sharded"), whole = Path.Combine(dir.Path, "whole");
        Assert.Equal(0, CommandLineTests.Run(Tiny(whole)).Code);
        foreach (var shard in new[] { "0/3", "1/3", "2/3" })
        {
            var part = CommandLineTests.Run([.. Tiny(sharded), "--shard", shard]);
            Assert.True(part.Code == 0, part.Err);
        }
        // seed-1 as a version before provenance wrote it; seed-3 as if computed on another machine.
        string units = Path.Combine(sharded, ProtocolUnitStore.UnitsFolderName);
        var old = JsonNode.Parse(File.ReadAllText(Path.Combine(units, "seed-1.json")))!.AsObject();
        Assert.True(old.Remove(ProtocolUnitStore.ProvenanceProperty));
        File.WriteAllText(Path.Combine(units, "seed-1.json"), old.ToJsonString());
        var other = JsonNode.Parse(File.ReadAllText(Path.Combine(units, "seed-3.json")))!.AsObject();
        other[ProtocolUnitStore.ProvenanceProperty]!["cpuModel"] = "Another CPU";
        File.WriteAllText(Path.Combine(units, "seed-3.json"), other.ToJsonString());

        var merged = CommandLineTests.Run("merge", sharded);
        Assert.True(merged.Code == 0, merged.Err);
        string file = Path.Combine(sharded, CommandLine.ResultFileName);
        Assert.Equal(WithoutTimings(Path.Combine(whole, CommandLine.ResultFileName)), WithoutTimings(file));
        var provenance = ResultProvenance.Read(file)!;
        AssertFilled(provenance.Written);
        Assert.Equal(["seed-1"], provenance.UnitsWithoutProvenance);
        Assert.Equal(2, provenance.Units.Count);
        Assert.Equal(["seed-2"], provenance.Units.Single(u => u.Provenance.CpuModel != "Another CPU").Units);
        Assert.Equal(["seed-3"], provenance.Units.Single(u => u.Provenance.CpuModel == "Another CPU").Units);
    }

    [Fact]
    public void A_result_written_without_provenance_reads_as_none()
    {
        using var dir = new ResumeTestKit.TempDirectory();
        string file = Path.Combine(dir.Path, "result.json");
        ProtocolJson.Write(new { wallSeconds = 1.0 }, file);
        Assert.Null(ResultProvenance.Read(file));
        var p = RunProvenance.Capture();
        ProtocolJson.Write(new { wallSeconds = 1.0 }, file, ResultProvenance.ForProcess(["seed-0"], p));
        var read = ResultProvenance.Read(file)!;
        Assert.Equal(p, read.Written);
        Assert.Equal(["seed-0"], Assert.Single(read.Units).Units);
    }
}
