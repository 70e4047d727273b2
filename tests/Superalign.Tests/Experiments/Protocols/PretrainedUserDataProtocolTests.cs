using System.Text.Json;
using Superalign.Data.Tokenizers;
using Superalign.Experiments.Protocols;
using Superalign.Students.Pretrained;
using Xunit;

namespace Superalign.Tests.Experiments.Protocols;

/// <summary>
/// Co-optimization and self-enhancement on your JSONL files with a pretrained checkpoint and tokenizer named in the
/// options: the committed tiny GPT-2 (64 ids, 32 positions) and the SentencePiece Unigram fixture (64 ids).
/// </summary>
public sealed class PretrainedUserDataProtocolTests : IDisposable
{
    private static readonly string Gpt2 = Path.Combine(AppContext.BaseDirectory, "Fixtures", "LanguageModels", "gpt2");
    private static readonly string Unigram = Path.Combine(AppContext.BaseDirectory, "Fixtures", "SentencePiece", "unigram");
    private static readonly string LlamaBpe = Path.Combine(AppContext.BaseDirectory, "Fixtures", "SentencePiece", "llama-bpe");
    private static readonly string[] Words = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog"];

    private readonly string _dir = Directory.CreateTempSubdirectory("superalign-pretrained-userdata-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Rows "w1 w2" → the word after w2 in <see cref="Words"/>; preferences: that word ≻ "no".</summary>
    private (string Sft, string Preferences) Files(int rows = 12)
    {
        string sft = Path.Combine(_dir, "sft.jsonl"), pref = Path.Combine(_dir, "pref.jsonl");
        string Prompt(int i) => $"{Words[i % 8]} {Words[(i + 3) % 8]}";
        string Next(int i) => " " + Words[(i + 4) % 8];
        File.WriteAllLines(sft, Enumerable.Range(0, rows).Select(i => JsonSerializer.Serialize(new { prompt = Prompt(i), completion = Next(i) })));
        File.WriteAllLines(pref, Enumerable.Range(0, rows).Select(i => JsonSerializer.Serialize(new { prompt = Prompt(i), chosen = Next(i), rejected = " no" })));
        return (sft, pref);
    }

    private CoOptimizationOptions Options(string? model = null, string? tokenizer = null)
    {
        var (sft, pref) = Files();
        return new CoOptimizationOptions
        {
            SftData = sft,
            PreferenceData = pref,
            Model = model ?? Gpt2,
            Tokenizer = tokenizer ?? Unigram,
            CompetenceMetric = CompletionMetric.TokenProbability,
            Seeds = [0],
            Schedules = ScheduleCandidate.Defaults().Where(s => s.Name is "competence-only" or "alternating").ToList(),
            PretrainSteps = 0,
            BatchBudget = 4,
            BatchSize = 4,
            LearningRate = 1e-2,
            Checkpoints = 0,
            Device = "cpu",
        };
    }

    private string CopyOf(string directory, string name)
    {
        string copy = Path.Combine(_dir, name);
        Directory.CreateDirectory(copy);
        foreach (var file in Directory.GetFiles(directory)) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        return copy;
    }

    [Fact]
    public void Co_optimization_trains_the_checkpoint_on_your_files_through_its_tokenizer()
    {
        using var threads = TorchThreads.Single();
        var untrained = new CoOptimizationComparison(Options()).Run();
        var trained = new CoOptimizationComparison(Options() with { PretrainSteps = 30 }).Run();
        // 12 rows, 20% held out: 2 held-out rows of each file.
        Assert.Equal((10, 2), (trained.TrainPrompts, trained.TestPrompts));
        foreach (var run in trained.Runs)
        {
            Assert.InRange(run.Scores.Competence, 1e-9, 1);
            Assert.Contains(run.Scores.Conformity, new[] { 0, 0.25, 0.5, 0.75, 1.0 }); // 2 pairs, ties ½
        }
        // The random checkpoint gives each of 64 ids about 1/64; SFT on the training rows raises the held-out rows' probability.
        Assert.InRange(untrained.Base[0].Competence, 1 / 64.0 / 2, 1 / 64.0 * 2);
        Assert.True(trained.Base[0].Competence > 4 * untrained.Base[0].Competence, $"{trained.Base[0].Competence} vs {untrained.Base[0].Competence}");
    }

    [Fact]
    public void Lora_trains_only_adapters_and_exact_match_compares_token_ids()
    {
        using var threads = TorchThreads.Single();
        var options = Options() with { LoraRank = 2, CompetenceMetric = CompletionMetric.ExactMatch, PretrainSteps = 4 };
        var result = new CoOptimizationComparison(options).Run();
        Assert.All(result.Runs, r => Assert.Contains(r.Scores.Competence, new[] { 0, 0.5, 1.0 })); // 2 held-out rows

        // The factory the options make: the checkpoint with rank-2 adapters on GPT-2's c_attn, nothing else trainable.
        var data = LmUserData.Load(options.SftData, options.PreferenceData, options.UserModel, "test")!;
        using var student = (PretrainedCausalLm)data.Factory!(new LanguageModelRequest(3, "x", data.VocabularySize, data.SequenceLength, TorchSharp.torch.CPU));
        var trainable = student.ParameterCount;
        Assert.Equal(2 * 2 * (16 + 48), trainable); // two layers, A [2, 16] and B [48, 2] on c_attn (16 → 48)
    }

    [Fact]
    public void The_sequence_length_and_vocabulary_come_from_the_tokenizer_and_the_model()
    {
        var options = Options();
        var data = LmUserData.Load(options.SftData, options.PreferenceData, options.UserModel, "test")!;
        var tokenizer = PretrainedTokenizer.FromDirectory(Unigram);
        var sft = Superalign.Data.DataFiles.ReadSftJsonl(options.SftData!);
        var pref = Superalign.Data.DataFiles.ReadPreferenceJsonl(options.PreferenceData!);
        int longest = Math.Max(sft.Max(r => 2 + tokenizer.Encode(r.Prompt).Length + tokenizer.Encode(r.Completion).Length),
            pref.Max(r => 2 + tokenizer.Encode(r.Prompt).Length + Math.Max(tokenizer.Encode(r.Chosen).Length, tokenizer.Encode(r.Rejected).Length)));
        Assert.Equal(longest, data.SequenceLength);
        Assert.InRange(longest, 8, 32);
        Assert.Equal(64, data.VocabularySize);
        Assert.Same(typeof(PretrainedTokenizer), data.Tokenizer.GetType());
        // The first row, as the datasets lay it out: BOS, the tokenizer's ids of prompt and completion, EOS.
        var row = data.SupervisedData(sft.Take(1).ToList());
        var expected = new long[] { 1 }.Concat(tokenizer.Encode(sft[0].Prompt)).Concat(tokenizer.Encode(sft[0].Completion)).Append(2).ToArray();
        var batch = row.Select([0]).Responses;
        Assert.Equal(expected[..^1], batch.Inputs.data<long>().ToArray().Take(expected.Length - 1).ToArray());
        Assert.Equal(expected[1..], batch.Targets.data<long>().ToArray().Take(expected.Length - 1).ToArray());
    }

    [Fact]
    public void The_tokenizer_defaults_to_the_model_directory()
    {
        string model = CopyOf(Gpt2, "gpt2-with-tokenizer");
        File.Copy(Path.Combine(Unigram, "tokenizer.model"), Path.Combine(model, "tokenizer.model"));
        var options = Options(model) with { Tokenizer = null };
        var data = LmUserData.Load(options.SftData, options.PreferenceData, options.UserModel, "test")!;
        Assert.Equal("sentencepiece", ((PretrainedTokenizer)data.Tokenizer).Kind);
        Assert.Contains($"Tokenizer={model} sentencepiece vocabulary 64", data.Inputs);
        // Without a tokenizer there, the error says to set Tokenizer.
        var error = Assert.Throws<ArgumentException>(() => new CoOptimizationComparison(Options(Gpt2) with { Tokenizer = null }));
        Assert.Equal("Model", error.ParamName);
        Assert.Contains("set Tokenizer", error.Message);
    }

    [Fact]
    public void Bad_model_and_tokenizer_options_are_refused_when_the_protocol_is_created_naming_the_option()
    {
        var options = Options();
        void Refused<T>(CoOptimizationOptions bad, string option, params string[] words) where T : ArgumentException
        {
            var error = Assert.Throws<T>(() => new CoOptimizationComparison(bad));
            Assert.Equal(option, error.ParamName);
            foreach (var word in words) Assert.Contains(word, error.Message);
        }
        Refused<ArgumentException>(options with { Model = Path.Combine(_dir, "none") }, "Model", "no directory", "none");
        Refused<ArgumentException>(options with { Tokenizer = Path.Combine(_dir, "none") }, "Tokenizer", "no directory");
        Refused<ArgumentException>(options with { Tokenizer = LlamaBpe }, "Tokenizer", "384", "64");
        Refused<ArgumentException>(options with { SftData = null, PreferenceData = null }, "Model", "SftData");
        Refused<ArgumentOutOfRangeException>(options with { LoraRank = -1 }, "LoraRank");
        Refused<ArgumentException>(options with { LoraAlpha = 4 }, "LoraRank", "LoraRank >= 1");
        Refused<ArgumentOutOfRangeException>(options with { LoraRank = 2, LoraTargetModules = [] }, "LoraTargetModules");
        Refused<ArgumentOutOfRangeException>(options with { MaxLength = 1 }, "MaxLength");
        Refused<ArgumentOutOfRangeException>(options with { MaxLength = 33 }, "MaxLength", "32");
        Refused<ArgumentException>(options with { Model = null, Tokenizer = null, MaxLength = 16 }, "MaxLength");
        Refused<ArgumentException>(options with { Model = null, LoraRank = 2 }, "LoraRank", "set Model");

        // A row longer than the model's 32 positions: refused without MaxLength, truncated with it.
        string longSft = Path.Combine(_dir, "long.jsonl");
        File.WriteAllLines(longSft, File.ReadAllLines(options.SftData!).Append(JsonSerializer.Serialize(new { prompt = string.Join(" ", Words.Concat(Words)), completion = " dog" })));
        Refused<ArgumentException>(options with { SftData = longSft }, "MaxLength", "context is 32");
        var data = LmUserData.Load(longSft, options.PreferenceData, (options with { MaxLength = 20 }).UserModel, "test")!;
        Assert.Equal(20, data.SequenceLength);
        Assert.Equal(20, data.SupervisedData(data.Sft).Select([data.Sft.Count - 1]).Responses.Inputs.shape[1] + 1); // inputs drop the last token

        // Self-enhancement has the same options and checks.
        var self = Assert.Throws<ArgumentException>(() => new SelfEnhancement(new SelfEnhancementOptions
        {
            SftData = options.SftData, PreferenceData = options.PreferenceData, Model = Gpt2, Tokenizer = LlamaBpe, Judges = [FeedbackJudge.Self],
        }));
        Assert.Equal("Tokenizer", self.ParamName);
        // A factory and Model both naming the model.
        Assert.Throws<ArgumentException>(() => new CoOptimizationComparison(_ => throw new InvalidOperationException(), options));
    }

    [Fact]
    public void A_changed_tokenizer_or_model_file_changes_the_fingerprint_and_old_units_are_refused()
    {
        string tokenizer = CopyOf(Unigram, "tokenizer"), model = CopyOf(Gpt2, "model");
        var options = Options(model, tokenizer) with { Schedules = ScheduleCandidate.Defaults().Where(s => s.Name == "alternating").ToList(), BatchBudget = 2 };
        string run = Path.Combine(_dir, "run");
        using var threads = TorchThreads.Single();
        var first = new CoOptimizationComparison(options).Run(new ProtocolRun { Directory = run });
        var again = new CoOptimizationComparison(options).Run(new ProtocolRun { Directory = run, ComputeMissing = false });
        Assert.Equal(ProtocolJson.Serialize(first.Runs.Select(r => r.Scores)), ProtocolJson.Serialize(again.Runs.Select(r => r.Scores)));
        // run.json records the tokenizer's identity: kind, vocabulary and the hash of each file.
        string manifest = File.ReadAllText(Path.Combine(run, ProtocolUnitStore.ManifestFileName));
        Assert.Contains("sentencepiece vocabulary 64", manifest);
        Assert.Contains("tokenizer.model sha256:", manifest);
        Assert.Contains("model.safetensors sha256:", manifest);

        // A tokenizer_config.json added beside the same tokenizer.model: another configuration, refused.
        File.WriteAllText(Path.Combine(tokenizer, "tokenizer_config.json"), """{"model_max_length": 32}""");
        Assert.Contains("another configuration", Assert.Throws<InvalidOperationException>(() => new CoOptimizationComparison(options).Run(new ProtocolRun { Directory = run })).Message);
        File.Delete(Path.Combine(tokenizer, "tokenizer_config.json"));
        _ = new CoOptimizationComparison(options).Run(new ProtocolRun { Directory = run, ComputeMissing = false }); // the same files again: read back

        // One changed byte of the weights: refused too.
        var weights = File.ReadAllBytes(Path.Combine(model, "model.safetensors"));
        weights[^1] ^= 1;
        File.WriteAllBytes(Path.Combine(model, "model.safetensors"), weights);
        Assert.Throws<InvalidOperationException>(() => new CoOptimizationComparison(options).Run(new ProtocolRun { Directory = run }));
    }

    [Fact]
    public void The_command_line_runs_it_and_reports_a_bad_tokenizer_as_bad_input()
    {
        var (sft, pref) = Files();
        string output = Path.Combine(_dir, "cli");
        string[] common = ["run", "co-optimization", "--seeds", "0", "--set", $"Model={Gpt2}", "--set", $"SftData={sft}", "--set", $"PreferenceData={pref}",
            "--set", "PretrainSteps=2", "--set", "BatchBudget=2", "--set", "BatchSize=4", "--set", "Checkpoints=0", "--set", "Device=cpu",
            "--set", "LoraRank=2", "--set", "MaxLength=24"];
        var (code, _, err) = Superalign.Tests.Cli.CommandLineTests.Run([.. common, "--set", $"Tokenizer={Unigram}", "--out", output]);
        Assert.True(code == 0, err);
        var result = ProtocolJson.Deserialize<CoOptimizationResult>(File.ReadAllText(Path.Combine(output, "result.json")));
        Assert.Equal((Gpt2, Unigram, 2, 24), (result.Options.Model, result.Options.Tokenizer, result.Options.LoraRank, result.Options.MaxLength));
        Assert.Equal(5, result.Runs.Count);

        (code, _, err) = Superalign.Tests.Cli.CommandLineTests.Run([.. common, "--set", $"Tokenizer={LlamaBpe}", "--out", Path.Combine(_dir, "cli-bad")]);
        Assert.Equal(2, code);
        Assert.Contains("Tokenizer", err);
        Assert.Contains("384", err);
    }

    [Fact]
    public void Self_enhancement_runs_on_the_checkpoint_with_its_tokenizer()
    {
        var (sft, pref) = Files();
        var options = new SelfEnhancementOptions
        {
            SftData = sft,
            PreferenceData = pref,
            Model = Gpt2,
            Tokenizer = Unigram,
            Judges = [FeedbackJudge.Self],
            Seeds = [0],
            SftSteps = 3,
            Rounds = 1,
            PromptsPerRound = 4,
            StepsPerRound = 1,
            BatchSize = 4,
            DiversitySamples = 2,
            DiversityPrompts = 2,
            Device = "cpu",
        };
        using var threads = TorchThreads.Single();
        var result = new SelfEnhancement(options).Run();
        var round = Assert.Single(result.Runs).Rounds[^1];
        Assert.Equal(1, round.Round);
        Assert.InRange(round.Diversity, 0.5, 1);
        Assert.Contains(round.JudgeAgreement, new[] { 0, 0.25, 0.5, 0.75, 1.0 }); // 2 held-out pairs, ties ½
    }
}
