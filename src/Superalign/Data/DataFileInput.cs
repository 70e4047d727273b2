using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Unicode;

namespace Superalign.Data;

/// <summary>
/// The byte-level input of <see cref="DataFiles"/>: checks that a path is a regular file before opening it, then reads
/// it line by line with a bound on each line's length and strict UTF-8 decoding, so that every problem (a FIFO, a
/// device, an endless line, invalid bytes) becomes a <see cref="DataFileException"/> naming the file and line instead of
/// a hang, unbounded memory or silently replaced characters.
/// </summary>
internal sealed class DataFileLineReader : IDisposable
{
    private const int ChunkBytes = 64 * 1024;
    private readonly string _path;
    private readonly int _maxLineBytes;
    private readonly FileStream? _stream;
    private readonly byte[] _chunk;
    private int _chunkPosition;
    private int _chunkLength;
    private long _remaining;
    private byte[] _line = new byte[256];
    private int _lineLength;
    private bool _pendingCarriageReturn;
    private bool _ended;
    private string? _text;

    private DataFileLineReader(string path, int maxLineBytes, FileStream? stream, long length)
    {
        _path = path;
        _maxLineBytes = maxLineBytes;
        _stream = stream;
        _remaining = length;
        _chunk = stream is null ? [] : new byte[(int)Math.Min(ChunkBytes, Math.Max(length, 1))];
    }

    /// <summary>
    /// Opens <paramref name="path"/> after checking it exists and is a regular file (following symbolic links). The
    /// file is read up to the length it had when opened (a file that grows while it is read is not followed).
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="kind">What the file should be ("CSV", "JSONL"), for the not-found message.</param>
    /// <param name="maxLineBytes">The longest line accepted, in bytes without its terminator.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DataFileException">The path is not a regular file (a FIFO, a device, a socket).</exception>
    public static DataFileLineReader Open(string path, string kind, int maxLineBytes)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"No {kind} file at '{path}'.", path);
        var type = FileTypes.Describe(path, out bool known);
        if (type is not null) throw NotRegular(path, type);
        // Where the type cannot be told (no stat), a FIFO or device reports length 0 like an empty file: leave such a
        // file unopened, so it cannot block or stream without end. (The length of a symbolic link's final target.)
        if (!known && TargetLength(path) == 0) return new DataFileLineReader(path, maxLineBytes, null, 0);
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1, FileOptions.SequentialScan);
        if (!stream.CanSeek)
        {
            stream.Dispose();
            throw NotRegular(path, "stream that cannot seek");
        }
        // The open file's own length (fstat), not a symbolic link's.
        var reader = new DataFileLineReader(path, maxLineBytes, stream, stream.Length);
        try
        {
            reader.SkipByteOrderMark();
        }
        catch
        {
            reader.Dispose();
            throw;
        }
        return reader;
    }

    private static DataFileException NotRegular(string path, string type) =>
        new(path, 1, $"is a {type}, not a regular file; data files must be regular files (a FIFO can block forever and a device may never end).");

    private static long TargetLength(string path)
    {
        try
        {
            return (File.ResolveLinkTarget(path, returnFinalTarget: true) as FileInfo ?? new FileInfo(path)).Length;
        }
        catch (IOException)
        {
            return new FileInfo(path).Length;
        }
    }

    /// <summary>The 1-based number of the current line (0 before the first).</summary>
    public long Number { get; private set; }

    /// <summary>The current line's bytes, without its terminator (valid until the next <see cref="Next"/>).</summary>
    public ReadOnlyMemory<byte> Bytes => _line.AsMemory(0, _lineLength);

    /// <summary>The current line decoded as strict UTF-8.</summary>
    /// <exception cref="DataFileException">The line is not valid UTF-8 (the message gives the byte's position).</exception>
    public string Text => _text ??= Decode();

    /// <summary>Moves to the next line: lines end at <c>\n</c>, <c>\r\n</c> or <c>\r</c> (as <see cref="File.ReadLines(string)"/>).</summary>
    /// <returns>False at the end of the file.</returns>
    /// <exception cref="DataFileException">The line is longer than the limit.</exception>
    public bool Next()
    {
        _text = null;
        _lineLength = 0;
        if (_ended) return false;
        while (true)
        {
            if (_chunkPosition == _chunkLength && !Fill())
            {
                _ended = true;
                if (_lineLength == 0) return false;
                Number++;
                return true;
            }
            var available = _chunk.AsSpan(_chunkPosition, _chunkLength - _chunkPosition);
            if (_pendingCarriageReturn)
            {
                _pendingCarriageReturn = false;
                if (available[0] == (byte)'\n')
                {
                    _chunkPosition++;
                    continue;
                }
            }
            int end = available.IndexOfAny((byte)'\n', (byte)'\r');
            Append(end < 0 ? available : available[..end]);
            if (end < 0)
            {
                _chunkPosition = _chunkLength;
                continue;
            }
            _pendingCarriageReturn = available[end] == (byte)'\r';
            _chunkPosition += end + 1;
            Number++;
            return true;
        }
    }

    /// <inheritdoc />
    public void Dispose() => _stream?.Dispose();

    private void Append(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > _maxLineBytes - _lineLength)
            throw new DataFileException(_path, Number + 1, $"the line is longer than {_maxLineBytes:N0} bytes, the limit (maxLineBytes).");
        if (_lineLength + bytes.Length > _line.Length)
            Array.Resize(ref _line, (int)Math.Min(_maxLineBytes, Math.Max(2L * _line.Length, _lineLength + bytes.Length)));
        bytes.CopyTo(_line.AsSpan(_lineLength));
        _lineLength += bytes.Length;
    }

    private bool Fill()
    {
        if (_stream is null || _remaining <= 0) return false;
        int want = (int)Math.Min(_chunk.Length, _remaining);
        int read = _stream.ReadAtLeast(_chunk.AsSpan(0, want), want, throwOnEndOfStream: false);
        _remaining -= read;
        _chunkPosition = 0;
        _chunkLength = read;
        if (read == 0) _remaining = 0;
        return read > 0;
    }

    private void SkipByteOrderMark()
    {
        if (!Fill()) return;
        var start = _chunk.AsSpan(0, _chunkLength);
        if (start.StartsWith("\uFEFF"u8)) _chunkPosition = 3;
        else if ((start.Length >= 2 && ((start[0] == 0xFF && start[1] == 0xFE) || (start[0] == 0xFE && start[1] == 0xFF))))
            throw new DataFileException(_path, 1, "the file starts with a UTF-16 byte order mark; data files must be UTF-8.");
    }

    private string Decode()
    {
        var bytes = _line.AsSpan(0, _lineLength);
        var chars = ArrayPool<char>.Shared.Rent(Math.Max(1, bytes.Length));
        try
        {
            var status = Utf8.ToUtf16(bytes, chars, out int read, out int written, replaceInvalidSequences: false);
            if (status != System.Buffers.OperationStatus.Done)
            {
                int shown = Math.Min(4, bytes.Length - read);
                var hex = Convert.ToHexString(bytes.Slice(read, shown));
                throw new DataFileException(_path, Number, $"invalid UTF-8 at byte {read + 1:N0} of the line (0x{hex}); data files must be UTF-8.");
            }
            return new string(chars, 0, written);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
        }
    }
}

/// <summary>Tells regular files from FIFOs, devices and sockets before they are opened.</summary>
internal static class FileTypes
{
    private const int TypeMask = 0xF000;
    private const int Regular = 0x8000;

    /// <summary>
    /// What <paramref name="path"/> is when it is not a regular file ("FIFO (named pipe)", "character device", …);
    /// null for a regular file, or where the type cannot be told (no stat; <paramref name="known"/> is then false and
    /// the reader relies on the length-0 check of <see cref="DataFileLineReader.Open"/>).
    /// </summary>
    /// <param name="path">The path.</param>
    /// <param name="known">Whether the type could be told.</param>
    public static string? Describe(string path, out bool known)
    {
        known = true;
        if (OperatingSystem.IsWindows())
            return (File.GetAttributes(path) & FileAttributes.Device) != 0 ? "device" : null;
        int? mode = UnixMode(path);
        known = mode is not null;
        if (mode is not { } m || (m & TypeMask) == Regular) return null;
        return (m & TypeMask) switch
        {
            0x1000 => "FIFO (named pipe)",
            0x2000 => "character device",
            0x6000 => "block device",
            0xC000 => "socket",
            0x4000 => "directory",
            _ => $"special file (mode 0x{m:X})",
        };
    }

    // .NET has no public API for a Unix file's type (FileAttributes carries no FIFO or device flag there). The
    // runtime's own shim, libSystem.Native, ships with every .NET on Unix and exports the stat it uses for FileInfo:
    // its FileStatus struct starts with (int Flags, int Mode), Mode being st_mode with the POSIX S_IF* type bits.
    // The buffer is larger than the struct; anything unexpected (a missing shim or entry point) means "unknown".
    [DllImport("libSystem.Native", EntryPoint = "SystemNative_Stat", SetLastError = false)]
    private static extern int SystemNativeStat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] status);

    /// <summary>Tests set this on their thread to take the path of a runtime without the stat shim.</summary>
    [ThreadStatic]
    internal static bool SimulateNoStat;

    private static int? UnixMode(string path)
    {
        if (SimulateNoStat) return null;
        try
        {
            var status = new byte[512];
            if (SystemNativeStat(path, status) != 0) return null;
            return BitConverter.ToInt32(status, 4);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or MarshalDirectiveException)
        {
            return null;
        }
    }
}
