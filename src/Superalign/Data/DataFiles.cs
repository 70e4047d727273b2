using System.Globalization;
using System.Text.Json;
using static TorchSharp.torch;

namespace Superalign.Data;

/// <summary>
/// A malformed row in a data file, or a file that cannot be read as one (not a regular file, not UTF-8, empty): the
/// message starts with <c>path:line: </c> (whole-file problems at line 1) and quotes at most a short excerpt of the data.
/// </summary>
public sealed class DataFileException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public DataFileException(string path, long line, string problem, Exception? inner = null)
        : base($"{path}:{line}: {problem}", inner)
    {
        Path = path;
        Line = line;
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>The 1-based line number.</summary>
    public long Line { get; }
}

/// <summary>A classification data set read from CSV: float32 features <c>[N, F]</c> and int64 labels <c>[N]</c>.</summary>
/// <param name="Features">Features <c>[N, F]</c>.</param>
/// <param name="Labels">Class indices <c>[N]</c>.</param>
/// <param name="FeatureNames">Column names of the features, in order.</param>
/// <param name="Classes">One more than the largest label.</param>
public sealed record ClassificationTable(Tensor Features, Tensor Labels, IReadOnlyList<string> FeatureNames, int Classes)
{
    /// <summary>The table as a <see cref="SupervisedDataset"/>.</summary>
    public SupervisedDataset ToDataset() => SupervisedDataset.ForClassification(Features, Labels);
}

/// <summary>One preference record in TRL's format: a prompt, the chosen and the rejected completion.</summary>
/// <param name="Prompt">The prompt.</param>
/// <param name="Chosen">The preferred completion.</param>
/// <param name="Rejected">The dispreferred completion.</param>
/// <param name="Source">The file the record came from, or null (records built in code).</param>
/// <param name="Line">Its 1-based line in <paramref name="Source"/>, or 0.</param>
public sealed record PreferenceRecord(string Prompt, string Chosen, string Rejected, string? Source = null, long Line = 0)
{
    /// <summary>Where the record came from, as <c>path:line</c> (or <c>record</c> when built in code), for error messages.</summary>
    public string Location => Source is null ? "record" : $"{Source}:{Line}";
}

/// <summary>One supervised fine-tuning record in TRL's prompt-completion format.</summary>
/// <param name="Prompt">The prompt.</param>
/// <param name="Completion">The completion the model should produce.</param>
/// <param name="Source">The file the record came from, or null (records built in code).</param>
/// <param name="Line">Its 1-based line in <paramref name="Source"/>, or 0.</param>
public sealed record SftRecord(string Prompt, string Completion, string? Source = null, long Line = 0)
{
    /// <summary>Where the record came from, as <c>path:line</c> (or <c>record</c> when built in code), for error messages.</summary>
    public string Location => Source is null ? "record" : $"{Source}:{Line}";
}

/// <summary>The settings of <see cref="DataFiles.ReadClassificationCsv"/>, checked in one place.</summary>
internal sealed record CsvReadOptions
{
    /// <summary>The column holding the class indices (default <c>label</c>).</summary>
    public string LabelColumn { get; init; } = "label";

    /// <summary>
    /// The number of classes, or null to infer it as one more than the largest label (at most
    /// <see cref="DataFiles.MaxInferredClasses"/>). When given, every label must be below it and
    /// <see cref="ClassificationTable.Classes"/> equals it, even if the largest classes do not occur in the file.
    /// </summary>
    public int? Classes { get; init; }

    /// <summary>
    /// The feature columns, in the order of the feature tensor's columns; null for every column but the label and
    /// <see cref="IgnoreColumns"/>. Columns neither listed here nor the label are skipped (they may hold anything,
    /// e.g. an <c>id</c> or text). A name the header lacks is an error.
    /// </summary>
    public IReadOnlyList<string>? FeatureColumns { get; init; }

    /// <summary>Columns to skip (e.g. <c>id</c>): they may hold anything. A name the header lacks is an error.</summary>
    public IReadOnlyList<string>? IgnoreColumns { get; init; }

    /// <summary>The longest line accepted, in bytes without its terminator (default 1 MiB).</summary>
    public int MaxLineBytes { get; init; } = DataFiles.DefaultMaxLineBytes;

    /// <summary>The longest field accepted, in characters (default 65,536).</summary>
    public int MaxFieldChars { get; init; } = DataFiles.DefaultMaxCsvFieldChars;

    internal void Validate()
    {
        if (string.IsNullOrEmpty(LabelColumn)) throw new ArgumentException("labelColumn must name a column.", "labelColumn");
        if (Classes is <= 0) throw new ArgumentOutOfRangeException("classes", Classes, "classes must be at least 1.");
        if (MaxLineBytes <= 0) throw new ArgumentOutOfRangeException("maxLineBytes", MaxLineBytes, "maxLineBytes must be positive.");
        if (MaxFieldChars <= 0) throw new ArgumentOutOfRangeException("maxFieldChars", MaxFieldChars, "maxFieldChars must be positive.");
        CheckNames(FeatureColumns, "featureColumns");
        CheckNames(IgnoreColumns, "ignoreColumns");
        if (FeatureColumns is not null && IgnoreColumns is not null && FeatureColumns.Intersect(IgnoreColumns, StringComparer.Ordinal).FirstOrDefault() is { } both)
            throw new ArgumentException($"column '{Excerpts.Of(both)}' is both in featureColumns and ignoreColumns.", "ignoreColumns");
    }

    private void CheckNames(IReadOnlyList<string>? names, string what)
    {
        if (names is null) return;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            if (string.IsNullOrEmpty(name)) throw new ArgumentException($"{what} holds an empty or null name.", what);
            if (name == LabelColumn) throw new ArgumentException($"{what} holds the label column '{Excerpts.Of(name)}'.", what);
            if (!seen.Add(name)) throw new ArgumentException($"{what} names '{Excerpts.Of(name)}' twice.", what);
        }
        if (what == "featureColumns" && names.Count == 0) throw new ArgumentException("featureColumns is empty; pass null for every column.", what);
    }
}

/// <summary>The settings of <see cref="DataFiles.ReadPreferenceJsonl(string, int, int)"/>, checked in one place.</summary>
internal sealed record JsonlReadOptions
{
    /// <summary>The longest line (one record) accepted, in bytes without its terminator (default 1 MiB).</summary>
    public int MaxLineBytes { get; init; } = DataFiles.DefaultMaxLineBytes;

    /// <summary>The longest <c>prompt</c>, <c>chosen</c> or <c>rejected</c> accepted, in characters (default 1,048,576).</summary>
    public int MaxFieldChars { get; init; } = DataFiles.DefaultMaxJsonlFieldChars;

    internal void Validate()
    {
        if (MaxLineBytes <= 0) throw new ArgumentOutOfRangeException("maxLineBytes", MaxLineBytes, "maxLineBytes must be positive.");
        if (MaxFieldChars <= 0) throw new ArgumentOutOfRangeException("maxFieldChars", MaxFieldChars, "maxFieldChars must be positive.");
    }
}

/// <summary>
/// Readers for users' own data: classification tables from CSV and preference pairs from JSONL with TRL's
/// <c>prompt</c>/<c>chosen</c>/<c>rejected</c> fields. Every malformed row raises a <see cref="DataFileException"/>
/// naming the file and line; nothing is returned from a file with a bad row.
/// </summary>
/// <remarks>
/// Files must be regular files (a FIFO or a device is rejected before it is opened) in strict UTF-8 (an optional
/// UTF-8 byte order mark is skipped; invalid bytes are an error, never replaced). Lines end at <c>\n</c>, <c>\r\n</c>
/// or <c>\r</c> and are at most <c>maxLineBytes</c> long; error messages quote at most about 60 characters of a field.
/// </remarks>
public static class DataFiles
{
    /// <summary>The most classes a CSV reader infers from its labels (labels up to 999,999) when no class count is given.</summary>
    public const int MaxInferredClasses = 1_000_000;

    /// <summary>The default longest line of both readers: 1 MiB (1,048,576 bytes, without the line terminator).</summary>
    public const int DefaultMaxLineBytes = 1 << 20;

    /// <summary>The default longest CSV field: 65,536 characters.</summary>
    public const int DefaultMaxCsvFieldChars = 1 << 16;

    /// <summary>The default longest JSONL <c>prompt</c>, <c>chosen</c> or <c>rejected</c>: 1,048,576 characters.</summary>
    public const int DefaultMaxJsonlFieldChars = 1 << 20;

    /// <summary>
    /// Reads a comma-separated table with a header row. Every column but <paramref name="labelColumn"/> and
    /// <paramref name="ignoreColumns"/> (or just <paramref name="featureColumns"/>, in that order) is a feature holding
    /// finite numbers (invariant culture); the label column holds integer class indices in [0, classes), where classes is
    /// <paramref name="classes"/> or, when that is null, one more than the largest label and at most
    /// <see cref="MaxInferredClasses"/>. Header names must be non-empty and distinct. Blank lines are skipped; quoting is
    /// not supported (a field containing a quote is rejected).
    /// </summary>
    /// <param name="path">The file: a regular file in UTF-8.</param>
    /// <param name="labelColumn">The label column's name.</param>
    /// <param name="classes">The number of classes: every label must be below it and <see cref="ClassificationTable.Classes"/>
    /// equals it, even if the largest classes do not occur in the file; null to infer it from the labels.</param>
    /// <param name="featureColumns">The feature columns, in the order of the feature tensor's columns; null for every
    /// column but the label and <paramref name="ignoreColumns"/>. Columns neither listed nor the label are skipped and may
    /// hold anything (an id, text). A name the header lacks is an error.</param>
    /// <param name="ignoreColumns">Columns to skip, such as an <c>id</c>; they may hold anything. A name the header lacks is an error.</param>
    /// <param name="maxLineBytes">The longest line accepted, in bytes without its terminator.</param>
    /// <param name="maxFieldChars">The longest field (or header name) accepted, in characters.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DataFileException">The file or a row is malformed, or the file is not a regular file (the message names file and line).</exception>
    /// <exception cref="ArgumentException">The arguments are invalid or contradict each other (e.g. a column both a feature and ignored).</exception>
    public static ClassificationTable ReadClassificationCsv(
        string path,
        string labelColumn = "label",
        int? classes = null,
        IReadOnlyList<string>? featureColumns = null,
        IReadOnlyList<string>? ignoreColumns = null,
        int maxLineBytes = DefaultMaxLineBytes,
        int maxFieldChars = DefaultMaxCsvFieldChars)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentException.ThrowIfNullOrEmpty(labelColumn);
        return ReadCsv(path, new CsvReadOptions
        {
            LabelColumn = labelColumn,
            Classes = classes,
            FeatureColumns = featureColumns,
            IgnoreColumns = ignoreColumns,
            MaxLineBytes = maxLineBytes,
            MaxFieldChars = maxFieldChars,
        });
    }

    private static ClassificationTable ReadCsv(string path, CsvReadOptions options)
    {
        options.Validate();
        using var reader = DataFileLineReader.Open(path, "CSV", options.MaxLineBytes);
        string[]? header = null;
        int labelIndex = -1;
        int[] featureIndices = [];
        var features = new List<float>();
        var labels = new List<long>();
        long largest = -1;
        while (reader.Next())
        {
            long lineNumber = reader.Number;
            var line = reader.Text;
            if (line.Trim().Length == 0) continue;
            if (line.Contains('"')) throw new DataFileException(path, lineNumber, "quoted fields are not supported.");
            var fields = line.Split(',').Select(f => f.Trim()).ToArray();
            if (header is null)
            {
                header = fields;
                (labelIndex, featureIndices) = Columns(path, lineNumber, header, options);
                continue;
            }
            if (fields.Length != header.Length)
                throw new DataFileException(path, lineNumber, $"expected {header.Length} fields as in the header, found {fields.Length:N0}.");
            for (int i = 0; i < fields.Length; i++)
            {
                if (fields[i].Length > options.MaxFieldChars)
                    throw new DataFileException(path, lineNumber, $"column '{Excerpts.Of(header[i])}' has a field of {fields[i].Length:N0} characters, more than {options.MaxFieldChars:N0} (maxFieldChars).");
            }
            var labelText = fields[labelIndex];
            if (!long.TryParse(labelText, NumberStyles.Integer, CultureInfo.InvariantCulture, out long label) || label < 0)
                throw new DataFileException(path, lineNumber, $"label '{Excerpts.Of(labelText)}' is not a class index (an integer >= 0).");
            if (options.Classes is { } classes && label >= classes)
                throw new DataFileException(path, lineNumber, $"label {label} is out of range for {classes:N0} classes (labels 0 to {classes - 1}).");
            if (options.Classes is null && label >= MaxInferredClasses)
                throw new DataFileException(path, lineNumber, $"label {label} would make more than {MaxInferredClasses:N0} classes, the most inferred without a class count; pass the number of classes (classes:) if the labels really go that high.");
            if (features.Count > Array.MaxLength - featureIndices.Length)
                throw new DataFileException(path, lineNumber, $"the table has more than {Array.MaxLength:N0} feature values, more than one array can hold.");
            foreach (int i in featureIndices)
            {
                if (!float.TryParse(fields[i], NumberStyles.Float, CultureInfo.InvariantCulture, out float value) || !float.IsFinite(value))
                    throw new DataFileException(path, lineNumber, $"column '{Excerpts.Of(header[i])}' has '{Excerpts.Of(fields[i])}', not a finite number.");
                features.Add(value);
            }
            labels.Add(label);
            largest = Math.Max(largest, label);
        }
        if (header is null) throw new DataFileException(path, Math.Max(1, reader.Number), "the file is empty (no header).");
        if (labels.Count == 0) throw new DataFileException(path, reader.Number, "the file has a header but no rows.");
        return new ClassificationTable(
            tensor(features.ToArray(), new long[] { labels.Count, featureIndices.Length }),
            tensor(labels.ToArray()),
            featureIndices.Select(i => header[i]).ToArray(),
            options.Classes ?? (int)(largest + 1));
    }

    private static (int Label, int[] Features) Columns(string path, long line, string[] header, CsvReadOptions options)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < header.Length; i++)
        {
            if (header[i].Length == 0)
                throw new DataFileException(path, line, $"column {i + 1} of the header has an empty name (columns: {Excerpts.List(header)}).");
            if (header[i].Length > options.MaxFieldChars)
                throw new DataFileException(path, line, $"column {i + 1} of the header has a name of {header[i].Length:N0} characters, more than {options.MaxFieldChars:N0} (maxFieldChars).");
            if (!index.TryAdd(header[i], i))
                throw new DataFileException(path, line, $"the header names column '{Excerpts.Of(header[i])}' twice (columns {index[header[i]] + 1} and {i + 1}); names must be distinct.");
        }
        if (!index.TryGetValue(options.LabelColumn, out int label))
            throw new DataFileException(path, line, $"the header has no '{Excerpts.Of(options.LabelColumn)}' column (columns: {Excerpts.List(header)}).");
        foreach (var (names, what) in new[] { (options.FeatureColumns, "feature"), (options.IgnoreColumns, "ignored") })
        {
            var unknown = names?.Where(n => !index.ContainsKey(n)).ToArray() ?? [];
            if (unknown.Length > 0)
                throw new DataFileException(path, line, $"{what} column{(unknown.Length > 1 ? "s" : "")} {string.Join(", ", unknown.Take(10).Select(n => $"'{Excerpts.Of(n, 40)}'"))}{(unknown.Length > 10 ? ", …" : "")} not in the header (columns: {Excerpts.List(header)}).");
        }
        var ignored = new HashSet<string>(options.IgnoreColumns ?? [], StringComparer.Ordinal);
        int[] features = options.FeatureColumns is { } chosen
            ? chosen.Select(n => index[n]).ToArray()
            : Enumerable.Range(0, header.Length).Where(i => i != label && !ignored.Contains(header[i])).ToArray();
        if (features.Length == 0)
            throw new DataFileException(path, line, header.Length < 2
                ? "the header needs at least one feature column besides the label."
                : "no feature column is left besides the label and the ignored columns.");
        return (label, features);
    }

    /// <summary>
    /// Reads preference pairs from JSON Lines: one object per line with string fields <c>prompt</c>, <c>chosen</c>
    /// and <c>rejected</c> (TRL's format; other fields are ignored). Blank lines are skipped. Strings must be valid
    /// Unicode: an escaped lone surrogate (<c>"\ud800"</c>) is an error.
    /// </summary>
    /// <param name="path">The file: a regular file in UTF-8.</param>
    /// <param name="maxLineBytes">The longest line (one record) accepted, in bytes without its terminator.</param>
    /// <param name="maxFieldChars">The longest <c>prompt</c>, <c>chosen</c> or <c>rejected</c> accepted, in characters.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DataFileException">The file or a line is malformed, or the file is not a regular file (the message names file and line).</exception>
    /// <exception cref="ArgumentException">A limit is not positive.</exception>
    public static IReadOnlyList<PreferenceRecord> ReadPreferenceJsonl(string path, int maxLineBytes = DefaultMaxLineBytes, int maxFieldChars = DefaultMaxJsonlFieldChars) =>
        ReadJsonl(path, maxLineBytes, maxFieldChars, row => PreferenceRow(row, path, null));

    /// <summary>
    /// Reads preference pairs from JSON Lines in TRL's standard format (string <c>prompt</c>, <c>chosen</c>,
    /// <c>rejected</c>, as <see cref="ReadPreferenceJsonl(string, int, int)"/>) or its conversational format, row by
    /// row: <c>prompt</c>, <c>chosen</c> and <c>rejected</c> holding message lists <c>[{"role": …, "content": …}]</c>
    /// (the prompt the turns before the answer, chosen/rejected the answer's turns), or — the implicit-prompt form —
    /// only <c>chosen</c> and <c>rejected</c> conversations, whose longest shared leading run of messages is the prompt.
    /// A conversational row becomes a record through <paramref name="chatTemplate"/> (<see cref="ChatTemplate.Split"/>):
    /// the prompt rendered with the generation prompt, each completion what the whole conversation adds after it.
    /// </summary>
    /// <param name="path">The file: a regular file in UTF-8.</param>
    /// <param name="chatTemplate">Renders conversational rows (e.g. <see cref="ChatTemplate.ChatMl"/>).</param>
    /// <param name="maxLineBytes">The longest line (one record) accepted, in bytes without its terminator.</param>
    /// <param name="maxFieldChars">The longest string field or message content accepted, in characters.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DataFileException">The file or a line is malformed: a message that is not an object with string
    /// <c>role</c> and <c>content</c>, a row mixing strings and message lists, an implicit prompt with no shared leading
    /// message or nothing after it, a template that cannot split the row (the message names file and line).</exception>
    /// <exception cref="ArgumentException">A limit is not positive.</exception>
    public static IReadOnlyList<PreferenceRecord> ReadPreferenceJsonl(string path, ChatTemplate chatTemplate, int maxLineBytes = DefaultMaxLineBytes, int maxFieldChars = DefaultMaxJsonlFieldChars)
    {
        ArgumentNullException.ThrowIfNull(chatTemplate);
        return ReadJsonl(path, maxLineBytes, maxFieldChars, row => PreferenceRow(row, path, chatTemplate));
    }

    private const string PreferenceFormat = "TRL's preference format needs prompt, chosen, rejected";

    private static PreferenceRecord PreferenceRow(JsonlRow row, string path, ChatTemplate? template)
    {
        bool conversational = row.IsArray("chosen") || row.IsArray("rejected") || row.IsArray("prompt");
        if (!conversational || template is null)
            return new PreferenceRecord(row.String("prompt", PreferenceFormat), row.String("chosen", PreferenceFormat), row.String("rejected", PreferenceFormat), path, row.Line);
        foreach (var field in new[] { "prompt", "chosen", "rejected" })
        {
            if (row.Has(field) && !row.IsArray(field))
                throw row.Error($"field '{field}' is not a list of messages, but the row holds one (TRL's conversational format): a row is either all strings or all message lists.");
        }
        var chosen = row.Messages("chosen");
        var rejected = row.Messages("rejected");
        IReadOnlyList<ChatMessage> prompt;
        if (row.Has("prompt"))
        {
            prompt = row.Messages("prompt");
        }
        else
        {
            int shared = 0;
            while (shared < chosen.Count && shared < rejected.Count && chosen[shared] == rejected[shared]) shared++;
            if (shared == 0) throw row.Error("no 'prompt' and chosen and rejected share no leading message, so there is no implicit prompt.");
            if (shared == chosen.Count || shared == rejected.Count)
                throw row.Error($"no 'prompt', and {(shared == chosen.Count ? "chosen" : "rejected")} has nothing after the messages it shares with the other, so it holds no completion.");
            prompt = chosen.Take(shared).ToArray();
            chosen = chosen.Skip(shared).ToArray();
            rejected = rejected.Skip(shared).ToArray();
        }
        try
        {
            var (promptText, chosenText) = template.Split(prompt, chosen);
            var (_, rejectedText) = template.Split(prompt, rejected);
            return new PreferenceRecord(promptText, chosenText, rejectedText, path, row.Line);
        }
        catch (ArgumentException e)
        {
            throw row.Error(e.Message, e);
        }
    }

    /// <summary>
    /// Reads supervised fine-tuning examples from JSON Lines in TRL's prompt-completion format: one object per line
    /// with string fields <c>prompt</c> and <c>completion</c> (other fields are ignored; TRL's conversational rows need
    /// <see cref="ReadSftJsonl(string, ChatTemplate, int, int)"/>). Blank lines are skipped; limits and Unicode rules as for
    /// <see cref="ReadPreferenceJsonl(string, int, int)"/>.
    /// </summary>
    /// <param name="path">The file: a regular file in UTF-8.</param>
    /// <param name="maxLineBytes">The longest line (one record) accepted, in bytes without its terminator.</param>
    /// <param name="maxFieldChars">The longest <c>prompt</c> or <c>completion</c> accepted, in characters.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DataFileException">The file or a line is malformed, or the file is not a regular file (the message names file and line).</exception>
    /// <exception cref="ArgumentException">A limit is not positive.</exception>
    public static IReadOnlyList<SftRecord> ReadSftJsonl(string path, int maxLineBytes = DefaultMaxLineBytes, int maxFieldChars = DefaultMaxJsonlFieldChars) =>
        ReadJsonl(path, maxLineBytes, maxFieldChars, row => SftRow(row, path, null));

    /// <summary>
    /// <see cref="ReadSftJsonl(string, int, int)"/> that also reads TRL's conversational rows, rendered with
    /// <paramref name="chatTemplate"/>: <c>{"messages": [...]}</c> (the prompt is every message before the last
    /// assistant message, the completion that message and any after it) and <c>{"prompt": [...], "completion": [...]}</c>
    /// (message lists). Rows of plain strings read as before.
    /// </summary>
    /// <param name="path">The file: a regular file in UTF-8.</param>
    /// <param name="chatTemplate">Renders conversational rows (<see cref="ChatTemplate.ChatMl"/>, the model's own, or yours).</param>
    /// <param name="maxLineBytes">The longest line (one record) accepted, in bytes without its terminator.</param>
    /// <param name="maxFieldChars">The longest string field or message content accepted, in characters.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DataFileException">The file or a line is malformed (the message names file and line).</exception>
    /// <exception cref="ArgumentException">A limit is not positive.</exception>
    public static IReadOnlyList<SftRecord> ReadSftJsonl(string path, ChatTemplate chatTemplate, int maxLineBytes = DefaultMaxLineBytes, int maxFieldChars = DefaultMaxJsonlFieldChars)
    {
        ArgumentNullException.ThrowIfNull(chatTemplate);
        return ReadJsonl(path, maxLineBytes, maxFieldChars, row => SftRow(row, path, chatTemplate));
    }

    private static SftRecord SftRow(JsonlRow row, string path, ChatTemplate? template)
    {
        bool conversational = row.IsArray("messages") || row.IsArray("prompt") || row.IsArray("completion");
        if (!conversational || template is null)
            return new SftRecord(row.String("prompt", SftFormat), row.String("completion", SftFormat), path, row.Line);
        IReadOnlyList<ChatMessage> prompt, completion;
        if (row.Has("messages"))
        {
            var messages = row.Messages("messages");
            int last = -1;
            for (int i = 0; i < messages.Count; i++)
                if (messages[i].Role == "assistant") last = i;
            if (last < 1)
                throw row.Error("field 'messages' needs an assistant message after at least one other message: the last assistant message is the completion, the messages before it the prompt.");
            prompt = messages.Take(last).ToArray();
            completion = messages.Skip(last).ToArray();
        }
        else
        {
            foreach (var field in new[] { "prompt", "completion" })
            {
                if (!row.IsArray(field))
                    throw row.Error($"field '{field}' is not a list of messages, but the row holds one (TRL's conversational format): a row is either all strings or all message lists.");
            }
            prompt = row.Messages("prompt");
            completion = row.Messages("completion");
        }
        try
        {
            var (promptText, completionText) = template.Split(prompt, completion);
            return new SftRecord(promptText, completionText, path, row.Line);
        }
        catch (ArgumentException e)
        {
            throw row.Error(e.Message, e);
        }
    }

    private const string SftFormat = "TRL's prompt-completion format needs prompt, completion";

    /// <summary>One record per non-blank line: a JSON object that <paramref name="make"/> turns into a record.</summary>
    private static IReadOnlyList<T> ReadJsonl<T>(string path, int maxLineBytes, int maxFieldChars, Func<JsonlRow, T> make)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var options = new JsonlReadOptions { MaxLineBytes = maxLineBytes, MaxFieldChars = maxFieldChars };
        options.Validate();
        using var reader = DataFileLineReader.Open(path, "JSONL", options.MaxLineBytes);
        var records = new List<T>();
        while (reader.Next())
        {
            long lineNumber = reader.Number;
            if (reader.Text.Trim().Length == 0) continue;
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(reader.Bytes);
            }
            catch (JsonException e)
            {
                throw new DataFileException(path, lineNumber, $"not valid JSON ({Excerpts.Of(e.Message, 200)}).", e);
            }
            using (document)
            {
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                    throw new DataFileException(path, lineNumber, $"expected a JSON object, found {document.RootElement.ValueKind}.");
                records.Add(make(new JsonlRow(path, lineNumber, document.RootElement, options.MaxFieldChars)));
            }
        }
        if (records.Count == 0) throw new DataFileException(path, Math.Max(1, reader.Number), "the file has no records.");
        return records;
    }
}
