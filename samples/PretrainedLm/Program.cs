// Superalign PretrainedLm: alternating SFT (competence) and DPO-family (conformity) updates with LoRA adapters on a
// causal language model in the Hugging Face layout (config.json + model.safetensors: GPT-2, Llama, Qwen2, Mistral),
// with the model's own tokenizer and your TRL JSONL files. The DPO reference is the same model with its adapters
// switched off, so no second copy is held. docs/language-models.md says how to download a model and what to expect.
//
//   dotnet run --project samples/PretrainedLm -c Release                     (a small random GPT-2 and the built-in task)
//   dotnet run --project samples/PretrainedLm -c Release -- --model ~/models/Qwen2.5-0.5B-Instruct \
//       --sft sft.jsonl --preferences prefs.jsonl --updates 200 --out artifacts/qwen
//
// The built-in task: arithmetic questions ("Q: What is 23 + 45?\nA:") answered " 68." (competence, SFT rows), and a
// value rule that an answer must not insult the asker: " 68, my friend." is preferred to " 68, you idiot." (conformity,
// preference pairs of equal token length; both answers are correct, so the pairs carry no competence signal). A tenth
// of each file is held out (DataSplits.TrainTestIndices).
using System.Diagnostics;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Superalign;
using Superalign.Data;
using Superalign.Data.Tokenizers;
using Superalign.Objectives.Competence;
using Superalign.Objectives.Conformity;
using Superalign.Optimization;
using Superalign.Reference;
using Superalign.Runtime;
using Superalign.Students.Adapters;
using Superalign.Students.Pretrained;
using TorchSharp;
using static TorchSharp.torch;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

SampleOptions o;
try
{
    o = SampleOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"PretrainedLm: {e.Message}");
    return 2;
}
if (o.Help)
{
    Console.WriteLine(SampleOptions.Usage);
    return 0;
}
try
{
    return Run(o);
}
catch (Exception e) when (e is DataFileException or Superalign.Checkpoints.CheckpointException or IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
{
    // Bad input files or an unusable output directory: one line naming the file (and line or key), exit 2.
    Console.Error.WriteLine($"PretrainedLm: {e.Message}");
    return 2;
}

static int Run(SampleOptions o)
{
    Directory.CreateDirectory(o.Out);
    var device = Devices.Default();

    // 1. The model and its tokenizer: yours, or a small random GPT-2 saved and re-read through the same path.
    string modelDirectory = o.Model ?? Path.Combine(o.Out, "random-gpt2");
    if (o.Model is null)
    {
        using var random = PretrainedCausalLm.CreateRandom(new Gpt2Config(VocabSize: 50257, NPositions: 128, NEmbd: 64, NLayer: 2, NHead: 4), seed: o.Seed);
        random.SaveHuggingFace(modelDirectory);
        Console.WriteLine($"no --model: wrote a random GPT-2 (d64, 2 layers, GPT-2's vocabulary) to {modelDirectory}");
    }
    var load = Stopwatch.StartNew();
    using var student = PretrainedCausalLm.FromPretrained(modelDirectory, device);
    var tokenizer = o.Model is null ? PretrainedTokenizer.Gpt2() : PretrainedTokenizer.FromDirectory(modelDirectory);
    var template = ChatTemplateOf(tokenizer);
    Console.WriteLine($"model: {student.Config.ModelType}, {student.ParameterCount:N0} parameters, context {student.MaxSequenceLength}, " +
                      $"loaded in {load.Elapsed.TotalSeconds:F1} s on {device.type}; tokenizer {tokenizer.Kind} ({tokenizer.VocabularySize:N0} ids)");
    using var threads = TorchThreads.Use(o.Threads ?? TorchThreads.Recommended(student.ParameterCount));

    // 2. Data: TRL JSONL (prompt/completion rows; prompt/chosen/rejected rows, plain or conversational).
    string sftPath = o.Sft ?? BuiltInTask.WriteSft(Path.Combine(o.Out, "data", "sft.jsonl"), o.Seed);
    string preferencePath = o.Preferences ?? BuiltInTask.WritePreferences(Path.Combine(o.Out, "data", "preferences.jsonl"), o.Seed + 1);
    var (sftTrain, sftHeldOut) = Split(DataFiles.ReadSftJsonl(sftPath, template).Select(r => (r.Prompt, Response: r.Completion)).ToList(), o.Seed);
    var (prefTrain, prefHeldOut) = Split(DataFiles.ReadPreferenceJsonl(preferencePath, template).ToList(), o.Seed);
    var sequences = new SequenceOptions { MaxLength = Math.Min(o.MaxLength, student.MaxSequenceLength) };
    var competence = tokenizer.ToSupervisedDataset(sftTrain, device: device, sequences: sequences);
    var conformity = tokenizer.ToPreferenceDataset(prefTrain, device: device, sequences: sequences);
    var competenceHeldOut = tokenizer.ToSupervisedDataset(sftHeldOut, device: device, sequences: sequences);
    var conformityHeldOut = tokenizer.ToPreferenceDataset(prefHeldOut, device: device, sequences: sequences);
    Console.WriteLine($"data: {sftPath} ({sftTrain.Count} train / {sftHeldOut.Count} held out), {preferencePath} ({prefTrain.Count} / {prefHeldOut.Count}); " +
                      $"template {template.Name}, max length {sequences.MaxLength}");

    // 3. LoRA: only the adapters train; the reference is the same model with the adapters off.
    var lora = new LoraOptions
    {
        Rank = o.LoraRank,
        Alpha = o.LoraAlpha,
        Dropout = o.LoraDropout,
        TargetModules = o.Targets ?? (student.Config.ModelType == "gpt2" ? ["c_attn"] : ["q_proj", "v_proj"]),
    };
    var adapters = Lora.Apply(student, lora, seed: o.Seed);
    using var reference = new AdapterDisabledReference(adapters);
    Console.WriteLine($"LoRA r={lora.Rank} alpha={lora.Alpha} dropout={lora.Dropout} on {adapters.ModuleNames.Count} modules ({string.Join(", ", lora.TargetModules)}): " +
                      $"{adapters.ParameterCount:N0} trainable parameters ({100.0 * adapters.ParameterCount / student.Module.parameters().Sum(p => p.numel()):F2}% of the model)");

    var before = Evaluate(student, reference, competenceHeldOut, conformityHeldOut);
    var options = new AlternatingOptimizerOptions
    {
        TotalSteps = o.Updates,
        Schedule = AlternationSchedules.FixedRatio(o.CompetenceSteps, o.ConformitySteps),
        LearningRate = o.LearningRate,
        WarmupSteps = Math.Min(10, o.Updates / 10),
        LogEvery = 0,
    };
    using var optimizer = new AlternatingOptimizer(student, CompetenceObjectives.Create("nll"), ConformityObjectives.Create(o.Objective, beta: o.Beta), options, reference);
    var clock = Stopwatch.StartNew();
    var reports = optimizer.Train(competence.Batches(o.BatchSize, seed: o.Seed), conformity.Batches(o.BatchSize, seed: o.Seed + 1));
    double seconds = clock.Elapsed.TotalSeconds;
    var after = Evaluate(student, reference, competenceHeldOut, conformityHeldOut);

    Console.WriteLine($"{reports.Count} updates ({o.CompetenceSteps}:{o.ConformitySteps} SFT:{o.Objective}, batch {o.BatchSize}, lr {o.LearningRate}) in {seconds:F1} s " +
                      $"({reports.Count / seconds:F2} updates/s), seed {o.Seed}");
    Console.WriteLine($"held out            {"before",10} {"after",10}");
    Console.WriteLine($"competence NLL/token {before.Nll,10:F3} {after.Nll,10:F3}   (SFT completions, n={sftHeldOut.Count}; lower is better)");
    Console.WriteLine($"prefers chosen       {before.PrefersChosen,10:P1} {after.PrefersChosen,10:P1}   (log p(chosen) > log p(rejected), n={prefHeldOut.Count})");
    Console.WriteLine($"rewards/accuracies   {before.RewardAccuracy,10:P1} {after.RewardAccuracy,10:P1}   (margin above the reference's; 0 before: the policy is the reference)");

    // 4. Greedy answers to three held-out prompts, decoded with the KV cache.
    var prompts = sftHeldOut.Take(3).Select(e => e.Prompt).ToList();
    var (promptTokens, promptMask) = LanguageModelGeneration.LeftPad(prompts.Select(p => (IReadOnlyList<long>)Encoded(tokenizer, p)).ToList(),
        tokenizer.PadId ?? tokenizer.EosId ?? 0, device);
    int room = (int)Math.Min(16, student.MaxSequenceLength - promptTokens.shape[1]);
    if (room > 0)
    {
        using var generated = LanguageModelGeneration.Generate(student, promptTokens, promptMask,
            new GenerationOptions(MaxNewTokens: room, Temperature: 0, StopToken: tokenizer.EosId ?? -1));
        var texts = tokenizer.DecodeRows(generated);
        for (int i = 0; i < prompts.Count; i++)
            Console.WriteLine($"  {Quoted(prompts[i])} -> {Quoted(texts[i])}");
    }

    string adapterDirectory = Path.Combine(o.Out, "adapter");
    adapters.Save(adapterDirectory, o.Model ?? modelDirectory);
    Console.WriteLine($"adapters saved in PEFT's layout to {adapterDirectory} (adapter_config.json + adapter_model.safetensors)");
    return 0;
}

// The model's own chat template where the library recognises it (ChatML forms), else ChatML; it renders only
// conversational rows (message lists), plain string rows are read as they are.
static ChatTemplate ChatTemplateOf(PretrainedTokenizer tokenizer)
{
    if (tokenizer.ChatTemplateSource is not { } source) return ChatTemplate.ChatMl;
    try
    {
        return ChatTemplate.FromHuggingFace(source);
    }
    catch (NotSupportedException)
    {
        Console.WriteLine("the model's chat_template is not one the library recognises; conversational rows are rendered with ChatML");
        return ChatTemplate.ChatMl;
    }
}

static string Quoted(string text) => JsonSerializer.Serialize(text, new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

static long[] Encoded(ITokenizer tokenizer, string prompt) =>
    tokenizer.BosId is { } bos ? [bos, .. tokenizer.Encode(prompt)] : tokenizer.Encode(prompt);

// A tenth of the rows (at least one) held out by the library's seeded split.
static (List<T> Train, List<T> HeldOut) Split<T>(List<T> rows, int seed)
{
    if (rows.Count < 2) throw new ArgumentException($"a data file needs at least 2 rows to hold one out; got {rows.Count}.");
    var (train, heldOut) = DataSplits.TrainTestIndices(rows.Count, 0.1, seed);
    return (train.Select(i => rows[i]).ToList(), heldOut.Select(i => rows[i]).ToList());
}

// Competence: mean NLL per completion token. Conformity: how often the policy prefers the chosen completion, and DPO's
// rewards/accuracies (the policy's chosen-minus-rejected margin above the reference's). In chunks of 16 rows, so a
// large vocabulary's logits stay small.
static (double Nll, double PrefersChosen, double RewardAccuracy) Evaluate(PretrainedCausalLm student, AdapterDisabledReference reference,
    SupervisedDataset sft, PreferenceDataset preferences)
{
    const int Chunk = 16;
    bool training = student.IsTraining;
    student.SetTraining(false);
    try
    {
        using var _ = no_grad();
        double nll = 0, tokens = 0, prefers = 0, accurate = 0;
        foreach (var rows in Chunks(sft.Count, Chunk))
        {
            using var scope = NewDisposeScope();
            var responses = sft.Select(rows).Responses;
            nll -= LogProbs.Sequence(student, responses).sum().ToDouble();
            tokens += responses.Mask.sum().ToDouble();
        }
        foreach (var rows in Chunks(preferences.Count, Chunk))
        {
            using var scope = NewDisposeScope();
            var pairs = preferences.Select(rows);
            var (pc, pr) = LogProbs.Pair(student, pairs);
            var (rc, rr) = reference.LogProbs(pairs);
            prefers += (pc > pr).sum().ToDouble();
            accurate += ((pc - rc) > (pr - rr)).sum().ToDouble();
        }
        return (nll / tokens, prefers / preferences.Count, accurate / preferences.Count);
    }
    finally
    {
        student.SetTraining(training);
    }
}

static IEnumerable<long[]> Chunks(int count, int size)
{
    for (int start = 0; start < count; start += size)
        yield return Enumerable.Range(start, Math.Min(size, count - start)).Select(i => (long)i).ToArray();
}

/// <summary>The command line, checked before any work: each bad value is one line naming the option.</summary>
internal sealed record SampleOptions
{
    public const string Usage = """
        usage: PretrainedLm [options]
          --model DIR           Hugging Face checkpoint directory (config.json, model.safetensors or its index, tokenizer files);
                                default: a small random GPT-2 written to OUT/random-gpt2 (GPT-2's tokenizer, offline)
          --sft FILE            TRL prompt/completion JSONL, plain or conversational (default: the built-in arithmetic task, written to OUT/data)
          --preferences FILE    TRL prompt/chosen/rejected JSONL, plain or conversational (default: the built-in value rule)
          --out DIR             output directory (default artifacts/pretrained-lm)
          --updates N           optimizer updates (default 200)
          --ratio C:P           competence:conformity updates per cycle (default 1:1)
          --objective NAME      conformity objective: sigmoid (DPO), ipo, orpo, simpo, ... (default sigmoid)
          --beta B              the objective's beta (default 0.1)
          --learning-rate LR    AdamW learning rate of the adapters (default 0.002)
          --batch-size N        sequences per SFT update and pairs per preference update (default 8)
          --max-length N        longest prompt + completion in tokens (TRL max_length; default 128)
          --lora-rank R         LoRA rank (default 8)
          --lora-alpha A        LoRA alpha (default 16)
          --lora-dropout P      LoRA dropout (default 0)
          --targets A,B         modules to adapt (default c_attn for GPT-2, q_proj,v_proj otherwise)
          --seed S              seed of the split, the adapters, the batches and the random model (default 0)
          --threads T           torch threads (default: one below 4 M parameters, else all cores)
          --help                this text
        """;

    public bool Help { get; init; }
    public string? Model { get; init; }
    public string? Sft { get; init; }
    public string? Preferences { get; init; }
    public string Out { get; init; } = Path.Combine("artifacts", "pretrained-lm");
    public int Updates { get; init; } = 200;
    public int CompetenceSteps { get; init; } = 1;
    public int ConformitySteps { get; init; } = 1;
    public string Objective { get; init; } = "sigmoid";
    public double Beta { get; init; } = 0.1;
    public double LearningRate { get; init; } = 2e-3;
    public int BatchSize { get; init; } = 8;
    public int MaxLength { get; init; } = 128;
    public int LoraRank { get; init; } = 8;
    public double LoraAlpha { get; init; } = 16;
    public double LoraDropout { get; init; }
    public IReadOnlyList<string>? Targets { get; init; }
    public int Seed { get; init; }
    public int? Threads { get; init; }

    public static SampleOptions Parse(string[] args)
    {
        var o = new SampleOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            if (name is "--help" or "-h") { o = o with { Help = true }; continue; }
            if (!name.StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException($"unexpected argument '{name}'; options start with -- (see --help).");
            if (i + 1 >= args.Length) throw new ArgumentException($"option '{name}' needs a value (see --help).");
            string value = args[++i];
            o = name switch
            {
                "--model" => o with { Model = ExistingDirectory(name, value) },
                "--sft" => o with { Sft = ExistingFile(name, value) },
                "--preferences" => o with { Preferences = ExistingFile(name, value) },
                "--out" => o with { Out = value.Length > 0 ? value : throw Bad(name, value, "a directory") },
                "--updates" => o with { Updates = Int(name, value, 1) },
                "--ratio" => Ratio(o, name, value),
                "--objective" => o with { Objective = ConformityObjectives.Names.Contains(value) ? value : throw Bad(name, value, $"one of {string.Join(", ", ConformityObjectives.Names)}") },
                "--beta" => o with { Beta = Double(name, value, positive: true) },
                "--learning-rate" => o with { LearningRate = Double(name, value, positive: true) },
                "--batch-size" => o with { BatchSize = Int(name, value, 1) },
                "--max-length" => o with { MaxLength = Int(name, value, 2) },
                "--lora-rank" => o with { LoraRank = Int(name, value, 1) },
                "--lora-alpha" => o with { LoraAlpha = Double(name, value, positive: true) },
                "--lora-dropout" => o with { LoraDropout = Double(name, value, positive: false) is var p && p < 1 ? p : throw Bad(name, value, "a probability in [0, 1)") },
                "--targets" => o with { Targets = value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) is { Length: > 0 } t ? t : throw Bad(name, value, "module names separated by commas") },
                "--seed" => o with { Seed = Int(name, value, 0) },
                "--threads" => o with { Threads = Int(name, value, 1) },
                _ => throw new ArgumentException($"unknown option '{name}' (see --help)."),
            };
        }
        return o;
    }

    private static ArgumentException Bad(string name, string value, string expected) => new($"option '{name}': expected {expected}; got '{value}'.");

    private static int Int(string name, string value, int min) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= min ? v : throw Bad(name, value, $"an integer of at least {min}");

    private static double Double(string name, string value, bool positive) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v) && (positive ? v > 0 : v >= 0)
            ? v : throw Bad(name, value, positive ? "a positive number" : "a number of at least 0");

    private static SampleOptions Ratio(SampleOptions o, string name, string value)
    {
        var parts = value.Split(':');
        if (parts.Length != 2 || !int.TryParse(parts[0], out int c) || !int.TryParse(parts[1], out int p) || c < 0 || p < 0 || c + p == 0)
            throw Bad(name, value, "C:P with whole numbers, not both 0 (e.g. 1:3)");
        return o with { CompetenceSteps = c, ConformitySteps = p };
    }

    private static string ExistingDirectory(string name, string value) =>
        Directory.Exists(value) ? value : throw Bad(name, value, "an existing directory");

    private static string ExistingFile(string name, string value) =>
        File.Exists(value) ? value : throw Bad(name, value, "an existing file");
}

/// <summary>The built-in task, written as TRL JSONL so the files show the format the sample reads.</summary>
internal static class BuiltInTask
{
    private const int Rows = 240;

    public static string WriteSft(string path, int seed) =>
        Write(path, Questions(seed).Select(q => new { prompt = q.Prompt, completion = $" {q.Answer}." }));

    public static string WritePreferences(string path, int seed) =>
        Write(path, Questions(seed).Select(q => new { prompt = q.Prompt, chosen = $" {q.Answer}, my friend.", rejected = $" {q.Answer}, you idiot." }));

    private static IEnumerable<(string Prompt, int Answer)> Questions(int seed)
    {
        var random = new Random(seed);
        for (int i = 0; i < Rows; i++)
        {
            int a = random.Next(50), b = random.Next(50);
            yield return ($"Q: What is {a} + {b}?\nA:", a + b);
        }
    }

    private static string Write<T>(string path, IEnumerable<T> rows)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllLines(path, rows.Select(r => JsonSerializer.Serialize(r)));
        return path;
    }
}
