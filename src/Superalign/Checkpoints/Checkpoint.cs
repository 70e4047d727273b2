namespace Superalign.Checkpoints;

/// <summary>
/// Saves and loads checkpoints: named parts (<see cref="ICheckpointable"/>), each in its own section of one file.
/// Saving is atomic; loading is all or nothing: the file is read and verified (format, lengths, a SHA-256 checksum per
/// entry), then every part checks its state, and only then is any part changed.
/// </summary>
/// <remarks>
/// The format is described in <c>docs/reliability.md</c>. Tensors are stored as raw little-endian bytes with their
/// dtype and shape; doubles bit for bit. A file holds the whole state in memory while it is written or read.
/// </remarks>
public static class Checkpoint
{
    /// <summary>The format version this library writes and reads.</summary>
    public const int FormatVersion = CheckpointFile.Version;

    /// <summary>Writes the state of every part to <paramref name="path"/>, atomically.</summary>
    /// <param name="path">The file (its directory is created).</param>
    /// <param name="parts">Section name → part. Names use letters, digits and <c>. _ -</c>.</param>
    /// <exception cref="ArgumentException">A name is malformed, or <paramref name="path"/> names a directory.</exception>
    public static void Save(string path, IReadOnlyDictionary<string, ICheckpointable> parts)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(parts);
        var writer = new CheckpointWriter();
        foreach (var (name, part) in parts)
        {
            ArgumentNullException.ThrowIfNull(part, $"parts[{name}]");
            part.SaveState(writer.Section(name));
        }
        CheckpointFile.Write(path, writer.Entries);
    }

    /// <summary>
    /// Restores every part from <paramref name="path"/>, all or nothing. Sections of the file that no part asks for
    /// are ignored (a student can be loaded from a full training checkpoint).
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="parts">Section name → part.</param>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="CheckpointException">The file is damaged or does not fit a part; no part was changed.</exception>
    public static void Load(string path, IReadOnlyDictionary<string, ICheckpointable> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        var reader = Read(path);
        var apply = new List<Action>(parts.Count);
        foreach (var (name, part) in parts)
        {
            ArgumentNullException.ThrowIfNull(part, $"parts[{name}]");
            if (!reader.HasSection(name))
                throw new CheckpointException(path, name, $"the checkpoint has no section '{name}' (sections: {string.Join(", ", Sections(reader))}).");
            apply.Add(part.PrepareRestore(reader.Section(name)));
        }
        foreach (var action in apply) action();
    }

    /// <summary>Reads and verifies <paramref name="path"/> and returns a reader of its entries.</summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="CheckpointException">The file is not a valid checkpoint.</exception>
    public static CheckpointReader Read(string path) => new(path, CheckpointFile.Read(path));

    /// <summary>Whether <paramref name="path"/> is a file that begins like a checkpoint (nothing is verified).</summary>
    public static bool LooksLikeCheckpoint(string path) => File.Exists(path) && CheckpointFile.HasMagic(path);

    /// <summary>The top-level section names of a checkpoint.</summary>
    public static IReadOnlyList<string> Sections(CheckpointReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return reader.TopLevelNames();
    }
}
