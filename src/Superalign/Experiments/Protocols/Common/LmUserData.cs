using System.Security.Cryptography;
using Superalign.Checkpoints;
using Superalign.Data;
using Superalign.Data.Tokenizers;
using Superalign.Experiments.Tasks;
using Superalign.Students.Pretrained;
using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

/// <summary>
/// Your SFT and preference files as the language-model protocols use them: read and checked once (every row, before
/// any training), a tokenizer (by default one character tokenizer over all their text; with <c>Tokenizer</c> or
/// <c>Model</c> a pretrained one), their content hashes for the run fingerprint, and per seed a held-out split of each
/// file with the metrics of docs/protocols.md ("Your own data").
/// </summary>
internal sealed class LmUserData
{
    private LmUserData(IReadOnlyList<SftRecord> sft, IReadOnlyList<PreferenceRecord> preferences, string inputs)
    {
        Sft = sft;
        Preferences = preferences;
        Inputs = inputs;
        Tokenizer = CharacterTokenizer.FromTexts(sft.SelectMany(r => new[] { r.Prompt, r.Completion })
            .Concat(preferences.SelectMany(r => new[] { r.Prompt, r.Chosen, r.Rejected })).Append("\n"));
        SequenceLength = Math.Max(sft.Max(r => 2 + r.Prompt.Length + r.Completion.Length),
            preferences.Max(r => 2 + r.Prompt.Length + Math.Max(r.Chosen.Length, r.Rejected.Length)));
        VocabularySize = Tokenizer.VocabularySize;
    }

    private LmUserData(IReadOnlyList<SftRecord> sft, IReadOnlyList<PreferenceRecord> preferences, string inputs, PretrainedTokenizer tokenizer,
        SequenceOptions sequences, int sequenceLength, int vocabularySize, LanguageModelFactory? factory)
    {
        Sft = sft;
        Preferences = preferences;
        Inputs = inputs;
        Tokenizer = tokenizer;
        Sequences = sequences;
        SequenceLength = sequenceLength;
        VocabularySize = vocabularySize;
        Factory = factory;
    }

    public IReadOnlyList<SftRecord> Sft { get; }

    public IReadOnlyList<PreferenceRecord> Preferences { get; }

    /// <summary>The files and their SHA-256 (with a model or tokenizer, theirs too), for <see cref="Protocol{TOptions, TResult}.DataInputs"/>.</summary>
    public string Inputs { get; }

    /// <summary>
    /// Characters of every text of both files (plus newline, so the alphabet is never empty), or the pretrained
    /// tokenizer of the <c>Tokenizer</c> (else <c>Model</c>) directory.
    /// </summary>
    public ITokenizer Tokenizer { get; }

    /// <summary>Truncation for a pretrained tokenizer (<c>MaxLength</c>); null (none, right padding) for the character tokenizer.</summary>
    public SequenceOptions? Sequences { get; }

    /// <summary>Tokens of the longest sequence of either file (BOS, prompt, the longer completion, EOS), at most <c>MaxLength</c>.</summary>
    public int SequenceLength { get; }

    /// <summary>The vocabulary the student must have: the model's (at least the tokenizer's) with <c>Model</c>, else the tokenizer's.</summary>
    public int VocabularySize { get; }

    /// <summary>With <c>Model</c>: makes the student of a request (the checkpoint, with LoRA adapters when asked); else null.</summary>
    public LanguageModelFactory? Factory { get; }

    /// <summary>
    /// Reads both files when the options name them (null when neither is named). Problems of the files become
    /// <see cref="ArgumentException"/>s that name the option and keep the file:line message (the
    /// <see cref="DataFileException"/> is the inner exception), so a front end reports them as bad input.
    /// </summary>
    /// <exception cref="ArgumentException">Only one file is named, a file is missing or malformed, or a file has fewer than 2 rows.</exception>
    public static LmUserData? Load(string? sftPath, string? preferencePath, string owner) => Load(sftPath, preferencePath, UserLanguageModel.None, owner);

    /// <summary>
    /// As <see cref="Load(string?, string?, string)"/>, with a pretrained model and/or tokenizer (<paramref name="model"/>):
    /// the tokenizer is opened, the model's configuration read (not its weights), the vocabularies compared and every
    /// row encoded to find the sequence length, all here, before any training.
    /// </summary>
    /// <exception cref="ArgumentException">As above; or the model or tokenizer directory is missing or unreadable, the
    /// tokenizer has more ids than the model, or a row does not fit the model's context (the message names the option and the sizes).</exception>
    public static LmUserData? Load(string? sftPath, string? preferencePath, UserLanguageModel model, string owner)
    {
        if (sftPath is null && preferencePath is null) return null;
        if (sftPath is null || preferencePath is null)
            throw new ArgumentException($"{owner}.SftData and {owner}.PreferenceData go together: competence is trained and measured on the SFT file, conformity on the preference file; set both or neither.",
                sftPath is null ? "SftData" : "PreferenceData");
        var (sft, sftHash) = Read(sftPath, "SftData", owner, DataFiles.ReadSftJsonl);
        var (preferences, preferenceHash) = Read(preferencePath, "PreferenceData", owner, DataFiles.ReadPreferenceJsonl);
        string inputs = $"SftData={sftPath} sha256:{sftHash}; PreferenceData={preferencePath} sha256:{preferenceHash}";
        if (!model.IsSet) return new LmUserData(sft, preferences, inputs);
        return Pretrained(sft, preferences, inputs, model, owner);
    }

    private static LmUserData Pretrained(IReadOnlyList<SftRecord> sft, IReadOnlyList<PreferenceRecord> preferences, string inputs, UserLanguageModel model, string owner)
    {
        string tokenizerDirectory = model.Tokenizer ?? model.Model!;
        string tokenizerOption = model.Tokenizer is null ? "Model" : "Tokenizer";
        PretrainedTokenizer tokenizer;
        try
        {
            tokenizer = PretrainedTokenizer.FromDirectory(tokenizerDirectory);
        }
        catch (Exception e) when (e is DataFileException or FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or IOException)
        {
            string hint = model.Tokenizer is null ? " (the model directory's tokenizer; set Tokenizer to take it from another directory)" : "";
            throw new ArgumentException($"{owner}.{tokenizerOption}: no usable tokenizer in '{tokenizerDirectory}'{hint}: {e.Message}", tokenizerOption, e);
        }
        int vocabulary = tokenizer.VocabularySize;
        int? context = null;
        if (model.Model is { } directory)
        {
            PretrainedCausalLmConfig config;
            try
            {
                config = PretrainedCausalLmConfig.Parse(File.ReadAllText(Path.Combine(directory, "config.json")));
            }
            catch (Exception e) when (e is CheckpointException or IOException or UnauthorizedAccessException or System.Text.Json.JsonException or FormatException or InvalidOperationException)
            {
                throw new ArgumentException($"{owner}.Model: cannot read '{Path.Combine(directory, "config.json")}': {e.Message}", "Model", e);
            }
            if (tokenizer.VocabularySize > config.VocabularySize)
                throw new ArgumentException($"{owner}.{tokenizerOption}: the tokenizer in '{tokenizerDirectory}' has {tokenizer.VocabularySize:N0} ids but the model in '{directory}' has a vocabulary of {config.VocabularySize:N0} (vocab_size of its config.json): they do not belong together.", tokenizerOption);
            vocabulary = config.VocabularySize;
            context = config.MaxSequenceLength;
            if (model.MaxLength > context)
                throw new ArgumentOutOfRangeException("MaxLength", model.MaxLength, $"{owner}.MaxLength is {model.MaxLength}, more than the model's context of {context} tokens ('{directory}').");
        }
        var sequences = model.MaxLength is { } most ? new SequenceOptions { MaxLength = most, MaxPromptLength = most - 1 } : SequenceOptions.Default;
        int bos = tokenizer.BosId is null ? 0 : 1, eos = tokenizer.EosId is null ? 0 : 1;
        int longest = Math.Max(
            sft.Max(r => bos + tokenizer.Encode(r.Prompt).Length + tokenizer.Encode(r.Completion).Length + eos),
            preferences.Max(r => bos + tokenizer.Encode(r.Prompt).Length + Math.Max(tokenizer.Encode(r.Chosen).Length, tokenizer.Encode(r.Rejected).Length) + eos));
        int length = model.MaxLength is { } cut ? Math.Min(cut, longest) : longest;
        if (context is { } limit && length > limit)
            throw new ArgumentException($"{owner}.MaxLength: the longest row of SftData/PreferenceData needs {longest:N0} tokens (BOS, prompt, completion, EOS) but the model's context is {limit:N0}; set MaxLength (at most {limit:N0}) to truncate as TRL's max_length does.", "MaxLength");
        inputs += $"; {model.Describe(tokenizer)}";
        return new LmUserData(sft, preferences, inputs, tokenizer, sequences, length, vocabulary, model.Model is null ? null : new LanguageModelFactory(model.Factory));
    }

    private static (IReadOnlyList<T> Rows, string Hash) Read<T>(string path, string option, string owner, Func<string, int, int, IReadOnlyList<T>> read)
    {
        try
        {
            var rows = read(path, DataFiles.DefaultMaxLineBytes, DataFiles.DefaultMaxJsonlFieldChars);
            if (rows.Count < 2)
                throw new ArgumentException($"{owner}.{option}: {path} has {rows.Count} row; at least 2 are needed (one to train on, one held out).", option);
            using var stream = File.OpenRead(path);
            return (rows, Convert.ToHexStringLower(SHA256.HashData(stream)));
        }
        catch (Exception e) when (e is DataFileException or FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"{owner}.{option}: {e.Message}", option, e);
        }
    }

    /// <summary>A seeded held-out split of both files (<see cref="DataSplits.TrainTestIndices"/>, each file its own stream).</summary>
    public Split SplitFor(int seed, double heldOutFraction, int sftStream, int preferenceStream)
    {
        var (sftTrain, sftTest) = DataSplits.TrainTestIndices(Sft.Count, heldOutFraction, SeedStreams.Mix(seed, sftStream));
        var (prefTrain, prefTest) = DataSplits.TrainTestIndices(Preferences.Count, heldOutFraction, SeedStreams.Mix(seed, preferenceStream));
        return new Split(sftTrain.Select(i => Sft[i]).ToList(), sftTest.Select(i => Sft[i]).ToList(),
            prefTrain.Select(i => Preferences[i]).ToList(), prefTest.Select(i => Preferences[i]).ToList());
    }

    /// <summary>The rows to train on and the held-out rows of both files.</summary>
    public sealed record Split(IReadOnlyList<SftRecord> SftTrain, IReadOnlyList<SftRecord> SftTest,
        IReadOnlyList<PreferenceRecord> PreferenceTrain, IReadOnlyList<PreferenceRecord> PreferenceTest);

    /// <summary>SFT rows as a dataset padded to <see cref="SequenceLength"/>.</summary>
    public SupervisedDataset SupervisedData(IReadOnlyList<SftRecord> rows) =>
        Tokenizer.ToSupervisedDataset(rows.Select(r => (r.Prompt, r.Completion)).ToList(), SequenceLength, sequences: Sequences);

    /// <summary>Preference rows as a dataset padded to <see cref="SequenceLength"/>.</summary>
    public PreferenceDataset PreferenceData(IReadOnlyList<PreferenceRecord> rows) => Tokenizer.ToPreferenceDataset(rows, SequenceLength, sequences: Sequences);

    /// <summary>
    /// Held-out scores as <see cref="ValueConflictScores"/>: competence by <paramref name="metric"/> on
    /// <paramref name="sftTest"/>, conformity = preference accuracy on <paramref name="preferenceTest"/> (the model's
    /// log-probability of the chosen completion above the rejected one's; a tie counts one half). The task's rates do
    /// not exist here (NaN); Answerable and Prompts count the held-out SFT rows and preference pairs.
    /// </summary>
    public ValueConflictScores Evaluate(ILanguageModelStudent model, IReadOnlyList<SftRecord> sftTest, IReadOnlyList<PreferenceRecord> preferenceTest, CompletionMetric metric)
    {
        double competence = metric == CompletionMetric.ExactMatch ? ExactMatch(model, sftTest) : TokenProbability(model, sftTest);
        return new ValueConflictScores(competence, PreferenceAccuracy(model, preferenceTest), double.NaN, double.NaN, double.NaN, sftTest.Count, preferenceTest.Count);
    }

    private double ExactMatch(ILanguageModelStudent model, IReadOnlyList<SftRecord> rows)
    {
        if (Tokenizer is CharacterTokenizer)
        {
            var maxTokens = rows.GroupBy(r => r.Prompt.Length).ToDictionary(g => g.Key, g => g.Max(r => r.Completion.Length) + 1);
            var responses = Respond(model, rows.Select(r => r.Prompt).ToList(), p => Math.Min(maxTokens[p], SequenceLength - 1 - p), 0, null);
            return rows.Select((r, i) => responses[i] == r.Completion ? 1.0 : 0.0).Average();
        }
        // A pretrained tokenizer need not give a text back exactly (a leading space, normalization): compare the
        // generated ids, up to the EOS, with the completion's ids (cut to what the sequence length leaves).
        var budget = rows.GroupBy(r => PromptTokens(r.Prompt)).ToDictionary(g => g.Key, g => g.Max(r => Tokenizer.Encode(r.Completion).Length) + 1);
        var generated = GenerateIds(model, rows.Select(r => r.Prompt).ToList(), p => Math.Min(budget[p], SequenceLength - 1 - p), 0, null);
        long? eos = Tokenizer.EosId;
        return rows.Select((r, i) =>
        {
            var wanted = Tokenizer.Encode(r.Completion);
            var ids = generated[i];
            int end = eos is { } stop && Array.IndexOf(ids, stop) is var at and >= 0 ? at : ids.Length;
            bool stopped = eos is null || end < ids.Length;
            return stopped && ids.AsSpan(0, end).SequenceEqual(wanted) ? 1.0 : 0.0;
        }).Average();
    }

    /// <summary>Tokens of a prompt without BOS (its length in characters for the character tokenizer), cut as <see cref="Sequences"/> cuts prompts.</summary>
    private int PromptTokens(string prompt)
    {
        if (Tokenizer is CharacterTokenizer) return prompt.Length;
        int tokens = Tokenizer.Encode(prompt).Length;
        return Sequences?.MaxPromptLength is { } most ? Math.Min(tokens, most - (Tokenizer.BosId is null ? 0 : 1)) : tokens;
    }

    /// <summary>
    /// One sampled response per prompt, at most as long as the sequence length leaves after the prompt (generation
    /// makes at least one token: what would not fit beside its prompt is cut).
    /// </summary>
    public IReadOnlyList<string> Sample(ILanguageModelStudent model, IReadOnlyList<string> prompts, double temperature, long seed)
    {
        var responses = Respond(model, prompts, p => SequenceLength - 2 - p, temperature, seed);
        if (Tokenizer is CharacterTokenizer)
            return responses.Select((r, i) => r.Length <= SequenceLength - 2 - prompts[i].Length ? r : r[..Math.Max(0, SequenceLength - 2 - prompts[i].Length)]).ToList();
        return responses.Select((r, i) =>
        {
            int room = Math.Max(0, SequenceLength - 2 - PromptTokens(prompts[i]));
            var ids = Tokenizer.Encode(r);
            return ids.Length <= room ? r : Tokenizer.Decode(ids[..room]);
        }).ToList();
    }

    private double TokenProbability(ILanguageModelStudent model, IReadOnlyList<SftRecord> rows)
    {
        var data = SupervisedData(rows);
        double total = 0;
        Chunks(model, data.Count, (batchOf, start, n) =>
        {
            var batch = data.Select(batchOf).Responses.To(model.Device);
            var sum = LogProbs.Sequence(model, batch);
            var length = batch.Mask.sum(1);
            total += (sum / length).exp().to_type(ScalarType.Float64).cpu().sum().item<double>();
        });
        return total / rows.Count;
    }

    /// <summary>Fraction of pairs whose chosen completion has the higher sequence log-probability under <paramref name="model"/> (ties ½).</summary>
    public double PreferenceAccuracy(ILanguageModelStudent model, IReadOnlyList<PreferenceRecord> rows)
    {
        var data = PreferenceData(rows);
        double wins = 0;
        Chunks(model, data.Count, (batchOf, start, n) =>
        {
            var (c, r) = LogProbs.Pair(model, data.Select(batchOf).To(model.Device));
            var margin = (c - r).to_type(ScalarType.Float64).cpu().data<double>().ToArray();
            wins += margin.Sum(m => m > 0 ? 1 : m == 0 ? 0.5 : 0);
        });
        return wins / rows.Count;
    }

    /// <summary>Runs <paramref name="body"/> on chunks of rows without gradient in evaluation mode (the mode restored after).</summary>
    private static void Chunks(IStudent model, int count, Action<long[], int, int> body, int chunkSize = 256)
    {
        bool training = model.IsTraining;
        model.SetTraining(false);
        try
        {
            using var _ = no_grad();
            for (int start = 0; start < count; start += chunkSize)
            {
                using var scope = NewDisposeScope();
                int n = Math.Min(chunkSize, count - start);
                body(Enumerable.Range(start, n).Select(i => (long)i).ToArray(), start, n);
            }
        }
        finally
        {
            model.SetTraining(training);
        }
    }

    /// <summary>
    /// Responses of <paramref name="model"/> to prompts of any lengths, in the prompts' order: prompts of one length are
    /// generated together (in chunks of 512), each with at most <paramref name="maxNewTokens"/>(length) tokens.
    /// </summary>
    public IReadOnlyList<string> Respond(ILanguageModelStudent model, IReadOnlyList<string> prompts, Func<int, int> maxNewTokens, double temperature, long? seed)
    {
        var responses = new string[prompts.Count];
        Generate(model, prompts, maxNewTokens, temperature, seed, (rows, generated) =>
        {
            var texts = Tokenizer.DecodeRows(generated);
            for (int j = 0; j < rows.Count; j++) responses[rows[j]] = texts[j];
        });
        return responses;
    }

    /// <summary>As <see cref="Respond"/>, the generated ids of each prompt (every new token, the stop token included).</summary>
    private long[][] GenerateIds(ILanguageModelStudent model, IReadOnlyList<string> prompts, Func<int, int> maxNewTokens, double temperature, long? seed)
    {
        var ids = new long[prompts.Count][];
        Generate(model, prompts, maxNewTokens, temperature, seed, (rows, generated) =>
        {
            long width = generated.shape[1];
            var flat = generated.to_type(ScalarType.Int64).cpu().data<long>().ToArray();
            for (int j = 0; j < rows.Count; j++) ids[rows[j]] = flat.AsSpan(j * (int)width, (int)width).ToArray();
        });
        return ids;
    }

    /// <summary>
    /// Generates for prompts of any lengths: prompts of one length in tokens (<see cref="PromptTokens"/>) together, in
    /// chunks of 512, each with at most <paramref name="maxNewTokens"/>(length) tokens; <paramref name="take"/> gets the
    /// prompts' indices and their generated tokens <c>[B, N]</c>.
    /// </summary>
    private void Generate(ILanguageModelStudent model, IReadOnlyList<string> prompts, Func<int, int> maxNewTokens, double temperature, long? seed, Action<List<int>, Tensor> take)
    {
        foreach (var group in Enumerable.Range(0, prompts.Count).GroupBy(i => PromptTokens(prompts[i])).OrderBy(g => g.Key))
        {
            var rows = group.ToList();
            int tokens = Math.Max(1, maxNewTokens(group.Key));
            var options = new GenerationOptions(tokens, temperature, StopToken: Tokenizer.EosId ?? -1, Seed: seed is { } s ? s + group.Key : null);
            for (int start = 0; start < rows.Count; start += 512)
            {
                using var scope = NewDisposeScope();
                var chunk = rows.Skip(start).Take(512).ToList();
                var generated = model.Generate(Tokenizer.EncodePrompts(chunk.Select(i => prompts[i]).ToList(), model.Device, sequences: Sequences), options);
                take(chunk, generated);
            }
        }
    }
}
