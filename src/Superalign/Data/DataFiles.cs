using System.Globalization;
using System.Text.Json;
using static TorchSharp.torch;

namespace Superalign.Data;

/// <summary>A malformed row in a data file: the message names the file and the 1-based line.</summary>
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

/// <summary>
/// Readers for users' own data: classification tables from CSV and preference pairs from JSONL with TRL's
/// <c>prompt</c>/<c>chosen</c>/<c>rejected</c> fields. Every malformed row raises a <see cref="DataFileException"/>
/// naming the file and line; nothing is returned from a file with a bad row.
/// </summary>
public static class DataFiles
{
    /// <summary>
    /// Reads a comma-separated table with a header row: every column but <paramref name="labelColumn"/> is a numeric
    /// feature (invariant culture), the label column holds class indices ≥ 0. Blank lines are skipped; quoting is
    /// not supported (a field containing a quote is rejected).
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DataFileException">A row is malformed (the message names file and line).</exception>
    public static ClassificationTable ReadClassificationCsv(string path, string labelColumn = "label")
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentException.ThrowIfNullOrEmpty(labelColumn);
        if (!File.Exists(path)) throw new FileNotFoundException($"No CSV file at '{path}'.", path);
        string[]? header = null;
        int labelIndex = -1;
        var features = new List<float>();
        var labels = new List<long>();
        long lineNumber = 0;
        foreach (var raw in File.ReadLines(path))
        {
            lineNumber++;
            var line = raw.TrimEnd('\r');
            if (line.Trim().Length == 0) continue;
            if (line.Contains('"')) throw new DataFileException(path, lineNumber, "quoted fields are not supported.");
            var fields = line.Split(',').Select(f => f.Trim()).ToArray();
            if (header is null)
            {
                header = fields;
                labelIndex = Array.IndexOf(header, labelColumn);
                if (labelIndex < 0)
                    throw new DataFileException(path, lineNumber, $"the header has no '{labelColumn}' column (columns: {string.Join(", ", header)}).");
                if (header.Length < 2) throw new DataFileException(path, lineNumber, "the header needs at least one feature column besides the label.");
                continue;
            }
            if (fields.Length != header.Length)
                throw new DataFileException(path, lineNumber, $"expected {header.Length} fields as in the header, found {fields.Length}.");
            for (int i = 0; i < fields.Length; i++)
            {
                if (i == labelIndex)
                {
                    if (!long.TryParse(fields[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out long label) || label < 0)
                        throw new DataFileException(path, lineNumber, $"label '{fields[i]}' is not a class index (an integer >= 0).");
                    labels.Add(label);
                }
                else
                {
                    if (!float.TryParse(fields[i], NumberStyles.Float, CultureInfo.InvariantCulture, out float value) || !float.IsFinite(value))
                        throw new DataFileException(path, lineNumber, $"column '{header[i]}' has '{fields[i]}', not a finite number.");
                    features.Add(value);
                }
            }
        }
        if (header is null) throw new DataFileException(path, Math.Max(1, lineNumber), "the file is empty (no header).");
        if (labels.Count == 0) throw new DataFileException(path, lineNumber, "the file has a header but no rows.");
        int f = header.Length - 1;
        var names = header.Where((_, i) => i != labelIndex).ToArray();
        return new ClassificationTable(
            tensor(features.ToArray(), new long[] { labels.Count, f }),
            tensor(labels.ToArray()),
            names,
            (int)labels.Max() + 1);
    }

    /// <summary>
    /// Reads preference pairs from JSON Lines: one object per line with string fields <c>prompt</c>, <c>chosen</c>
    /// and <c>rejected</c> (TRL's format; other fields are ignored). Blank lines are skipped.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DataFileException">A line is not such an object (the message names file and line).</exception>
    public static IReadOnlyList<PreferenceRecord> ReadPreferenceJsonl(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"No JSONL file at '{path}'.", path);
        var records = new List<PreferenceRecord>();
        long lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.Trim().Length == 0) continue;
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(line);
            }
            catch (JsonException e)
            {
                throw new DataFileException(path, lineNumber, $"not valid JSON ({e.Message}).", e);
            }
            using (document)
            {
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                    throw new DataFileException(path, lineNumber, $"expected a JSON object, found {document.RootElement.ValueKind}.");
                string Field(string name)
                {
                    if (!document.RootElement.TryGetProperty(name, out var value))
                        throw new DataFileException(path, lineNumber, $"missing field '{name}' (TRL's preference format needs prompt, chosen, rejected).");
                    if (value.ValueKind != JsonValueKind.String)
                        throw new DataFileException(path, lineNumber, $"field '{name}' must be a string, found {value.ValueKind}.");
                    return value.GetString()!;
                }
                records.Add(new PreferenceRecord(Field("prompt"), Field("chosen"), Field("rejected"), path, lineNumber));
            }
        }
        if (records.Count == 0) throw new DataFileException(path, Math.Max(1, lineNumber), "the file has no records.");
        return records;
    }
}
