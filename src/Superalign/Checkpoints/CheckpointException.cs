namespace Superalign.Checkpoints;

/// <summary>
/// A checkpoint that cannot be used: not a checkpoint, another format version, truncated, a checksum that does not
/// match, or state that does not fit what it is loaded into. The message names the file and, where there is one, the
/// key. Whatever it was being loaded into is unchanged.
/// </summary>
public sealed class CheckpointException : IOException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="path">The checkpoint file.</param>
    /// <param name="key">The entry concerned, or null for the file as a whole.</param>
    /// <param name="problem">What is wrong.</param>
    /// <param name="inner">The underlying error, if any.</param>
    public CheckpointException(string path, string? key, string problem, Exception? inner = null)
        : base(key is null ? $"{path}: {problem}" : $"{path}: '{key}': {problem}", inner)
    {
        Path = path;
        Key = key;
    }

    /// <summary>The checkpoint file.</summary>
    public string Path { get; }

    /// <summary>The entry concerned, or null.</summary>
    public string? Key { get; }
}
