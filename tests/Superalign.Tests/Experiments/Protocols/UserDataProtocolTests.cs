using System.Text.Json;
using Superalign.Data;
using Superalign.Experiments.Protocols;
using Superalign.Students;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Experiments.Protocols;

/// <summary>Co-optimization and self-enhancement on your own JSONL files and your own language-model student.</summary>
public sealed class UserDataProtocolTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("superalign-userdata-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Tiny TRL-style files: sums as SFT rows, "the sum ≻ no" as preference rows.</summary>
    private (string Sft, string Preferences) Files(int rows = 20, string? name = null)
    {
        var random = new Random(1);
        string sft = Path.Combine(_dir, (name ?? "sft") + ".jsonl"), pref = Path.Combine(_dir, (name ?? "pref") + ".pref.jsonl");
        File.WriteAllLines(sft, Enumerable.Range(0, rows).Select(_ =>
        {
            int a = random.Next(10), b = random.Next(10);
            return JsonSerializer.Serialize(new { prompt = $"{a}+{b}=", completion = $"{a + b}" });
        }));
        File.WriteAllLines(pref, Enumerable.Range(0, rows).Select(_ =>
        {
            int a = random.Next(10), b = random.Next(10);
            return JsonSerializer.Serialize(new { prompt = $"{a}+{b}=", chosen = $"{a + b}", rejected = "no" });
        }));
        return (sft, pref);
    }

    private static CoOptimizationOptions CoOptimization(string sft, string pref) => new()
    {
        SftData = sft,
        PreferenceData = pref,
        Seeds = [0],
        Schedules = ScheduleCandidate.Defaults().Where(s => s.Name is "competence-only" or "alternating").ToList(),
        ModelDim = 16,
        Layers = 1,
        Heads = 2,
        PretrainSteps = 10,
        BatchBudget = 6,
        BatchSize = 8,
        Checkpoints = 0,
        Device = "cpu",
    };

    [Fact]
    public void Co_optimization_trains_and_evaluates_on_held_out_rows_of_your_files()
    {
        var (sft, pref) = Files(20);
        using var threads = TorchThreads.Single();
        var result = new CoOptimizationComparison(CoOptimization(sft, pref) with { CompetenceMetric = CompletionMetric.TokenProbability }).Run();
        // 20 rows, 20% held out: 4 held-out SFT rows and 4 held-out pairs; 16 SFT rows to train on.
        Assert.Equal((16, 4), (result.TrainPrompts, result.TestPrompts));
        Assert.Equal((4, 4), (result.Base[0].Answerable, result.Base[0].Prompts));
        Assert.True(double.IsNaN(result.Base[0].RefusalRate));
        foreach (var run in result.Runs)
        {
            Assert.InRange(run.Scores.Competence, 1e-9, 1); // a geometric-mean token probability
            Assert.Contains(run.Scores.Conformity, new[] { 0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0 }); // 4 pairs, ties ½
        }
        Assert.Equal(6, result.Runs.Single(r => r.Schedule == "alternating").CompetenceBatches + result.Runs.Single(r => r.Schedule == "alternating").ConformityBatches);
    }

    [Fact]
    public void Your_own_student_factory_is_asked_for_the_data_s_vocabulary_and_length()
    {
        var (sft, pref) = Files(12);
        var requests = new List<LanguageModelRequest>();
        ILanguageModelStudent Factory(LanguageModelRequest r)
        {
            requests.Add(r);
            return new TinyCausalLm(new TinyCausalLmOptions(r.VocabularySize, r.SequenceLength + 3, ModelDim: 8, Layers: 1, Heads: 1, Seed: r.Seed), r.Device, "mine-" + r.Name);
        }
        using var threads = TorchThreads.Single();
        var result = new CoOptimizationComparison(Factory, CoOptimization(sft, pref) with { Seeds = [0, 1] }).Run();
        Assert.Equal(["lm-seed0", "lm-seed1"], requests.Select(r => r.Name));
        // Alphabet: digits, '+', '=', 'n', 'o' and the newline the tokenizer always holds, plus 3 specials.
        var alphabet = File.ReadAllLines(sft).Concat(File.ReadAllLines(pref)).Select(l => JsonDocument.Parse(l).RootElement)
            .SelectMany(e => e.EnumerateObject().Select(p => p.Value.GetString()!)).SelectMany(t => t).Append('\n').Distinct().Count();
        Assert.All(requests, r => Assert.Equal(alphabet + 3, r.VocabularySize));
        // Longest: BOS + "9+9=" + "18" + EOS at most; "no" is as long as a two-digit sum.
        Assert.All(requests, r => Assert.InRange(r.SequenceLength, 6, 8));
        Assert.Equal(CPU.ToString(), requests[0].Device.ToString());
        Assert.Equal(4, result.Runs.Count);

        // A factory whose model does not fit the data is refused before training, naming the request.
        var wrong = new CoOptimizationComparison(r => new TinyCausalLm(new TinyCausalLmOptions(r.VocabularySize + 1, r.SequenceLength, 8, 1, 1)), CoOptimization(sft, pref));
        Assert.Contains("vocabulary", Assert.Throws<InvalidOperationException>(() => wrong.Run()).Message);
    }

    [Fact]
    public void Self_enhancement_runs_on_your_files_with_self_and_peer_judges_scored_on_your_held_out_pairs()
    {
        var (sft, pref) = Files(12);
        var options = new SelfEnhancementOptions
        {
            SftData = sft,
            PreferenceData = pref,
            Judges = [FeedbackJudge.Self, FeedbackJudge.Peer],
            Seeds = [0],
            ModelDim = 16,
            Layers = 1,
            Heads = 2,
            SftSteps = 5,
            Rounds = 2,
            PromptsPerRound = 8,
            StepsPerRound = 2,
            BatchSize = 8,
            DiversitySamples = 2,
            DiversityPrompts = 3,
            Device = "cpu",
        };
        var names = new List<string>();
        using var threads = TorchThreads.Single();
        var result = new SelfEnhancement(r => { names.Add(r.Name); return new TinyCausalLm(new TinyCausalLmOptions(r.VocabularySize, r.SequenceLength, 8, 1, 1, Seed: r.Seed), r.Device); }, options).Run();
        Assert.Equal(["policy-seed0", "peer-seed0"], names);
        Assert.Equal(2, result.Runs.Count);
        // 12 rows, 20% held out (2): the pool is the distinct prompts of the 10 training pairs; 10 demonstrations.
        Assert.Equal((2, 10), (result.TestPrompts, result.Demonstrations));
        foreach (var run in result.Runs)
        {
            Assert.Equal(3, run.Rounds.Count);
            foreach (var round in run.Rounds.Skip(1))
            {
                Assert.Equal(2, round.DecisivePairs); // the held-out pairs
                Assert.Contains(round.JudgeAgreement, new[] { 0, 0.25, 0.5, 0.75, 1.0 });
                Assert.InRange(round.Diversity, 0.5, 1);
                Assert.Equal((2, 2), (round.Scores.Answerable, round.Scores.Prompts));
            }
        }
        // The oracle needs the built-in checkers.
        var error = Assert.Throws<ArgumentException>(() => new SelfEnhancement(options with { Judges = [FeedbackJudge.Oracle] }));
        Assert.Equal("Judges", error.ParamName);
    }

    [Fact]
    public void Bad_files_are_reported_with_option_file_and_line_before_any_training()
    {
        var (sft, pref) = Files(6);
        var options = CoOptimization(sft, pref);
        var missing = Assert.Throws<ArgumentException>(() => new CoOptimizationComparison(options with { SftData = Path.Combine(_dir, "none.jsonl") }));
        Assert.Equal("SftData", missing.ParamName);
        Assert.Contains("none.jsonl", missing.Message);
        Assert.Equal("PreferenceData", Assert.Throws<ArgumentException>(() => new CoOptimizationComparison(options with { PreferenceData = null })).ParamName);

        var lines = File.ReadAllLines(pref).ToList();
        lines[2] = "{\"prompt\": \"1+1=\", \"chosen\": \"2\"}";
        File.WriteAllLines(pref, lines);
        var bad = Assert.Throws<ArgumentException>(() => new SelfEnhancement(new SelfEnhancementOptions { SftData = sft, PreferenceData = pref, Judges = [FeedbackJudge.Self] }));
        Assert.Equal("PreferenceData", bad.ParamName);
        Assert.Contains($"{pref}:3: missing field 'rejected'", bad.Message);
        Assert.Equal(3, Assert.IsType<DataFileException>(bad.InnerException).Line);

        File.WriteAllLines(sft, [File.ReadAllLines(sft)[0]]);
        Assert.Contains("at least 2", Assert.Throws<ArgumentException>(() => new CoOptimizationComparison(options)).Message);
    }

    [Fact]
    public void Changed_data_change_the_fingerprint_and_are_never_merged_with_old_units()
    {
        var (sft, pref) = Files(8);
        var options = CoOptimization(sft, pref) with { Schedules = ScheduleCandidate.Defaults().Where(s => s.Name == "alternating").ToList(), BatchBudget = 2, PretrainSteps = 2 };
        string run = Path.Combine(_dir, "run");
        using var threads = TorchThreads.Single();
        var first = new CoOptimizationComparison(options).Run(new ProtocolRun { Directory = run });
        // Same data: read back.
        var again = new CoOptimizationComparison(options).Run(new ProtocolRun { Directory = run, ComputeMissing = false });
        Assert.Equal(ProtocolJson.Serialize(first.Runs.Select(r => r.Scores)), ProtocolJson.Serialize(again.Runs.Select(r => r.Scores)));
        string manifest = File.ReadAllText(Path.Combine(run, ProtocolUnitStore.ManifestFileName));
        Assert.Contains("sha256:", manifest);

        // One changed completion, same path and options: another fingerprint, and the directory is refused.
        var lines = File.ReadAllLines(sft);
        lines[0] = lines[0].Replace("\"completion\":\"", "\"completion\":\"1");
        File.WriteAllLines(sft, lines);
        var error = Assert.Throws<InvalidOperationException>(() => new CoOptimizationComparison(options).Run(new ProtocolRun { Directory = run }));
        Assert.Contains("another configuration", error.Message);
        Assert.NotEqual(ProtocolUnitStore.ComputeFingerprint("co-optimization", options, null, "a"), ProtocolUnitStore.ComputeFingerprint("co-optimization", options, null, "b"));
        // Without data inputs the fingerprint is the one earlier versions computed.
        Assert.Equal(ProtocolUnitStore.ComputeFingerprint("co-optimization", options), ProtocolUnitStore.ComputeFingerprint("co-optimization", options, null, null));
    }

    [Fact]
    public void The_metrics_on_your_data_match_a_direct_computation()
    {
        var (sft, pref) = Files(10);
        var data = LmUserData.Load(sft, pref, "test")!;
        var sftRows = DataFiles.ReadSftJsonl(sft);
        var prefRows = DataFiles.ReadPreferenceJsonl(pref);
        using var scope = NewDisposeScope();
        using var model = new TinyCausalLm(new TinyCausalLmOptions(data.Tokenizer.VocabularySize, data.SequenceLength, 8, 1, 1, Seed: 5), CPU);
        model.SetTraining(false);

        // Independently: sum of next-token log-softmax over each completion and its EOS, from the raw token logits.
        double LogProb(string prompt, string completion, out int tokens)
        {
            var ids = new List<long> { CharacterTokenizer.Bos };
            ids.AddRange(data.Tokenizer.Encode(prompt));
            int start = ids.Count;
            ids.AddRange(data.Tokenizer.Encode(completion));
            ids.Add(CharacterTokenizer.Eos);
            using var _ = no_grad();
            var logp = model.TokenLogits(tensor(ids.ToArray()).unsqueeze(0)).log_softmax(-1)[0];
            double sum = 0;
            for (int i = start; i < ids.Count; i++) sum += logp[i - 1, ids[i]].item<float>();
            tokens = ids.Count - start;
            return sum;
        }
        double accuracy = prefRows.Average(r =>
        {
            double m = LogProb(r.Prompt, r.Chosen, out _) - LogProb(r.Prompt, r.Rejected, out _);
            return m > 0 ? 1 : m == 0 ? 0.5 : 0;
        });
        double probability = sftRows.Average(r => Math.Exp(LogProb(r.Prompt, r.Completion, out int n) / n));
        var scores = data.Evaluate(model, sftRows, prefRows, CompletionMetric.TokenProbability);
        Assert.Equal(accuracy, scores.Conformity, 12);
        Assert.Equal(probability, scores.Competence, 5);

        // Exact match: the greedy completions, decoded independently one prompt at a time.
        double exact = sftRows.Average(r =>
        {
            var generated = model.Generate(data.Tokenizer.EncodePrompts([r.Prompt]), new GenerationOptions(r.Completion.Length + 1, 0, StopToken: CharacterTokenizer.Eos));
            return data.Tokenizer.DecodeRows(generated)[0] == r.Completion ? 1.0 : 0.0;
        });
        Assert.Equal(exact, data.Evaluate(model, sftRows, prefRows, CompletionMetric.ExactMatch).Competence);
    }
}
