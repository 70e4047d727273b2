using System.Text.Json.Nodes;
using Xunit;

namespace Superalign.Samples.Tests;

/// <summary>The PretrainedLm sample as a user runs it: its command line, and a short run on the random GPT-2.</summary>
public sealed class PretrainedLmSampleTests
{
    public static TheoryData<string[], string> BadCommandLines() => new()
    {
        { ["--updates", "0"], "'--updates'" },
        { ["--updates"], "'--updates' needs a value" },
        { ["--ratio", "1-3"], "'--ratio'" },
        { ["--objective", "dpo-ish"], "'--objective'" },
        { ["--lora-dropout", "1"], "'--lora-dropout'" },
        { ["--model", "no/such/dir"], "'--model'" },
        { ["--sft", "no-such.jsonl"], "'--sft'" },
        { ["--learning-rate", "NaN"], "'--learning-rate'" },
        { ["--bogus", "1"], "'--bogus'" },
        { ["stray"], "'stray'" },
    };

    [Theory]
    [MemberData(nameof(BadCommandLines))]
    public void A_bad_command_line_is_one_line_naming_the_option_exit_2_and_nothing_written(string[] args, string named)
    {
        using var directory = new Scratch();
        var run = SampleProcess.Run("PretrainedLm", directory.Path, args);
        Assert.Equal(2, run.ExitCode);
        Assert.StartsWith("PretrainedLm: ", run.Error);
        Assert.Contains(named, run.Error);
        Assert.Single(run.Error.Trim().Split('\n'));
        Assert.Empty(Directory.GetFileSystemEntries(directory.Path));
    }

    [Fact]
    public void Help_lists_every_option()
    {
        using var directory = new Scratch();
        var run = SampleProcess.Run("PretrainedLm", directory.Path, "--help");
        Assert.Equal(0, run.ExitCode);
        foreach (var option in new[] { "--model", "--sft", "--preferences", "--out", "--updates", "--ratio", "--objective", "--lora-rank", "--targets", "--seed" })
            Assert.Contains(option, run.Output);
    }

    [Fact]
    public void A_bad_data_row_names_the_file_and_line()
    {
        using var directory = new Scratch();
        string sft = Path.Combine(directory.Path, "sft.jsonl");
        File.WriteAllLines(sft, ["{\"prompt\": \"a\", \"completion\": \"b\"}", "{\"prompt\": \"a\"}"]);
        var run = SampleProcess.Run("PretrainedLm", directory.Path, "--sft", sft, "--updates", "2", "--out", Path.Combine(directory.Path, "out"));
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("sft.jsonl:2", run.Error);
    }

    [Fact]
    public void A_short_run_on_the_random_gpt2_trains_only_the_adapters_and_saves_them_in_peft_layout()
    {
        using var directory = new Scratch();
        string output = Path.Combine(directory.Path, "out");
        var run = SampleProcess.Run("PretrainedLm", directory.Path, "--updates", "6", "--batch-size", "4", "--out", output);
        Assert.True(run.ExitCode == 0, run.Error + run.Output);
        Assert.Contains("6 updates", run.Output);
        Assert.Contains("competence NLL/token", run.Output);
        Assert.True(File.Exists(Path.Combine(output, "random-gpt2", "model.safetensors")));
        Assert.True(File.Exists(Path.Combine(output, "data", "sft.jsonl")));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "adapter", "adapter_config.json")))!;
        Assert.Equal("LORA", config["peft_type"]!.GetValue<string>());
        Assert.Equal("c_attn", config["target_modules"]!.AsArray().Single()!.GetValue<string>());
        Assert.True(new FileInfo(Path.Combine(output, "adapter", "adapter_model.safetensors")).Length > 0);
    }

    private sealed class Scratch : IDisposable
    {
        public Scratch()
        {
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"superalign-pretrained-{Guid.NewGuid():N}");
            Directory.CreateDirectory(Path);
        }

        public string Path { get; }

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
