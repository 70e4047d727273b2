using Superalign.Checkpoints;

namespace Superalign.Optimization;

/// <summary>
/// Periodic checkpoints of <see cref="AlternatingOptimizer.Train(Data.IBatchSource{SupervisedBatch}?, Data.IBatchSource{PreferenceBatch}?, TrainingCheckpoints, IProgress{StepReport}?, CancellationToken)"/>:
/// every <see cref="Every"/> updates (and after the last) the whole run state is written to
/// <c>step-NNNNNNNNNN.ckpt</c> in <see cref="Directory"/>, the newest <see cref="KeepLast"/> are kept, and a new call
/// with the same directory resumes from the newest valid one.
/// </summary>
public sealed record TrainingCheckpoints
{
    /// <summary>Creates the settings for <paramref name="directory"/>.</summary>
    public TrainingCheckpoints(string directory) => Directory = directory;

    /// <summary>Where the checkpoints live (created when missing).</summary>
    public string Directory { get; init; }

    /// <summary>Updates between checkpoints, &gt;= 1. Default 100.</summary>
    public long Every { get; init; } = 100;

    /// <summary>How many of the newest checkpoints to keep, &gt;= 1. Default 2 (one to fall back on if the newest is damaged).</summary>
    public int KeepLast { get; init; } = 2;

    /// <summary>Resume from the newest valid checkpoint in the directory when there is one. Default true.</summary>
    public bool Resume { get; init; } = true;

    /// <summary>
    /// More parts to keep with the run (a tokenizer, your own component), by section name; names must differ from the
    /// built-in sections (<see cref="AlternatingOptimizer.CheckpointSections"/>).
    /// </summary>
    public IReadOnlyDictionary<string, ICheckpointable>? Extras { get; init; }

    /// <summary>The file name of the checkpoint after <paramref name="steps"/> updates.</summary>
    public static string FileName(long steps) => $"step-{steps:D10}.ckpt";

    /// <summary>The checkpoints in <paramref name="directory"/>, newest (most updates) first.</summary>
    public static IReadOnlyList<(long Steps, string Path)> List(string directory)
    {
        if (!System.IO.Directory.Exists(directory)) return [];
        return System.IO.Directory.GetFiles(directory, "step-*.ckpt")
            .Select(p => (Name: Path.GetFileNameWithoutExtension(p), Path: p))
            .Where(x => x.Name.Length == 15 && long.TryParse(x.Name.AsSpan(5), System.Globalization.NumberStyles.None, null, out _))
            .Select(x => (Steps: long.Parse(x.Name.AsSpan(5), System.Globalization.CultureInfo.InvariantCulture), x.Path))
            .OrderByDescending(x => x.Steps).ToList();
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Directory)) throw new ArgumentException($"{nameof(TrainingCheckpoints)}.{nameof(Directory)} must name a directory.", nameof(Directory));
        if (Every < 1) throw new ArgumentOutOfRangeException(nameof(Every), Every, $"{nameof(TrainingCheckpoints)}.{nameof(Every)} must be >= 1; got {Every}.");
        if (KeepLast < 1) throw new ArgumentOutOfRangeException(nameof(KeepLast), KeepLast, $"{nameof(TrainingCheckpoints)}.{nameof(KeepLast)} must be >= 1; got {KeepLast}.");
    }
}
