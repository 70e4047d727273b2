namespace Superalign.Tests.Infrastructure;

/// <summary>
/// The scaffold of the JSONL reader tests: a temporary directory, deleted on <see cref="Dispose"/>, and
/// <see cref="Write"/>, which puts lines into a new file there and returns its path.
/// </summary>
internal sealed class TempJsonlFiles : IDisposable
{
    /// <summary>Creates the directory under the system's temporary folder, its name starting with <paramref name="prefix"/>.</summary>
    public TempJsonlFiles(string prefix) => Directory = System.IO.Directory.CreateTempSubdirectory(prefix).FullName;

    /// <summary>The directory's full path.</summary>
    public string Directory { get; }

    /// <summary>Writes <paramref name="lines"/> (one per line) to a new <c>.jsonl</c> file with a unique name; returns its path.</summary>
    public string Write(params string[] lines)
    {
        var path = Path.Combine(Directory, $"{Guid.NewGuid():N}.jsonl");
        File.WriteAllLines(path, lines);
        return path;
    }

    /// <summary>Deletes the directory and everything in it.</summary>
    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
