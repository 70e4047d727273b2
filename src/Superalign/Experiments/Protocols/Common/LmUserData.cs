using System.Security.Cryptography;
using Superalign.Data;
using Superalign.Experiments.Tasks;
using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

/// <summary>
/// Your SFT and preference files as the language-model protocols use them: read and checked once (every row, before
/// any training), one character tokenizer over all their text, their content hashes for the run fingerprint, and per
/// seed a held-out split of each file with the metrics of docs/protocols.md ("Your own data").
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
    }

    public IReadOnlyList<SftRecord> Sft { get; }

    public IReadOnlyList<PreferenceRecord> Preferences { get; }

    /// <summary>The files and their SHA-256, for <see cref="Protocol{TOptions, TResult}.DataInputs"/>.</summary>
    public string Inputs { get; }

    /// <summary>Characters of every text of both files (plus newline, so the alphabet is never empty).</summary>
    public CharacterTokenizer Tokenizer { get; }

    /// <summary>Tokens of the longest sequence of either file: BOS, prompt, the longer completion, EOS.</summary>
    public int SequenceLength { get; }

    /// <summary>
    /// Reads both files when the options name them (null when neither is named). Problems of the files become
    /// <see cref="ArgumentException"/>s that name the option and keep the file:line message (the
    /// <see cref="DataFileException"/> is the inner exception), so a front end reports them as bad input.
    /// </summary>
    /// <exception cref="ArgumentException">Only one file is named, a file is missing or malformed, or a file has fewer than 2 rows.</exception>
    public static LmUserData? Load(string? sftPath, string? preferencePath, string owner)
    {
        if (sftPath is null && preferencePath is null) return null;
        if (sftPath is null || preferencePath is null)
            throw new ArgumentException($"{owner}.SftData and {owner}.PreferenceData go together: competence is trained and measured on the SFT file, conformity on the preference file; set both or neither.",
                sftPath is null ? "SftData" : "PreferenceData");
        var (sft, sftHash) = Read(sftPath, "SftData", owner, DataFiles.ReadSftJsonl);
        var (preferences, preferenceHash) = Read(preferencePath, "PreferenceData", owner, DataFiles.ReadPreferenceJsonl);
        return new LmUserData(sft, preferences, $"SftData={sftPath} sha256:{sftHash}; PreferenceData={preferencePath} sha256:{preferenceHash}");
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
        Tokenizer.ToSupervisedDataset(rows.Select(r => (r.Prompt, r.Completion)).ToList(), SequenceLength);

    /// <summary>Preference rows as a dataset padded to <see cref="SequenceLength"/>.</summary>
    public PreferenceDataset PreferenceData(IReadOnlyList<PreferenceRecord> rows) => Tokenizer.ToPreferenceDataset(rows, SequenceLength);

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
        var maxTokens = rows.GroupBy(r => r.Prompt.Length).ToDictionary(g => g.Key, g => g.Max(r => r.Completion.Length) + 1);
        var responses = Respond(model, rows.Select(r => r.Prompt).ToList(), p => Math.Min(maxTokens[p], SequenceLength - 1 - p), 0, null);
        return rows.Select((r, i) => responses[i] == r.Completion ? 1.0 : 0.0).Average();
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
        foreach (var group in Enumerable.Range(0, prompts.Count).GroupBy(i => prompts[i].Length).OrderBy(g => g.Key))
        {
            var rows = group.ToList();
            int tokens = Math.Max(1, maxNewTokens(group.Key));
            var options = new GenerationOptions(tokens, temperature, StopToken: CharacterTokenizer.Eos, Seed: seed is { } s ? s + group.Key : null);
            for (int start = 0; start < rows.Count; start += 512)
            {
                using var scope = NewDisposeScope();
                var chunk = rows.Skip(start).Take(512).ToList();
                var generated = model.Generate(Tokenizer.EncodePrompts(chunk.Select(i => prompts[i]).ToList(), model.Device), options);
                var texts = Tokenizer.DecodeRows(generated);
                for (int j = 0; j < chunk.Count; j++) responses[chunk[j]] = texts[j];
            }
        }
        return responses;
    }
}
