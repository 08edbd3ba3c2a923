using Podmon.Sys;

namespace Podmon.Logging;

/// <summary>
/// A log file with a hard size limit. Records are staged in the thread's format buffer and
/// written when it fills or at <see cref="Flush"/> (end of every chunk), so nothing is buffered
/// between chunks. <see cref="BeginRecord"/> enforces <see cref="MaxSize"/>: if the next record
/// would push the file past it, the file is truncated to 0 first (reopened by path with O_TRUNC,
/// as conmon does), so the file never exceeds the limit, not even by one line.
/// </summary>
public sealed class LogFile : IDisposable
{
    const int Flags = Libc.O_WRONLY | Libc.O_CREAT | Libc.O_APPEND | Libc.O_CLOEXEC;

    readonly uint _mode;
    OwnedFd _fd;
    int _pending;

    public string Path { get; }
    public ulong MaxSize { get; }
    public long Written { get; private set; }

    LogFile(string path, ulong maxSize, uint mode, OwnedFd fd)
    {
        Path = path;
        MaxSize = maxSize;
        _mode = mode;
        _fd = fd;
    }

    /// <summary>Creates or truncates the file (like conmon-rs at container creation).</summary>
    public static LogFile Create(string path, ulong maxSize, uint mode) =>
        new(path, maxSize, mode, OpenFile(path, Libc.O_TRUNC, mode));

    /// <summary>Opens for appending, keeping what the file has (conmon); the size limit counts it.</summary>
    public static LogFile Append(string path, ulong maxSize, uint mode)
    {
        var f = new LogFile(path, maxSize, mode, OpenFile(path, 0, mode));
        f.Written = Errno.Check(Libc.lseek(f._fd.Value, 0, Libc.SEEK_END), "lseek");
        return f;
    }

    static OwnedFd OpenFile(string path, int extra, uint mode) =>
        OwnedFd.Check(Libc.open(path, Flags | extra, (int)mode), "open", $"log file '{path}'");

    /// <summary>Makes room for a record of <paramref name="length"/> bytes (≤ MaxSize).</summary>
    public void BeginRecord(int length)
    {
        if (MaxSize > 0 && (ulong)(Written + length) > MaxSize)
        {
            Flush();
            Libc.fsync(_fd.Value);
            ReplaceFd(OpenFile(Path, Libc.O_TRUNC, _mode));
            Written = 0;
        }
        Written += length;
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        byte[] buf = Scratch.FormatBuffer;
        if (_pending + data.Length > buf.Length)
        {
            Flush();
            if (data.Length > buf.Length)
            {
                Libc.WriteAll(_fd.Value, data);
                return;
            }
        }
        data.CopyTo(buf.AsSpan(_pending));
        _pending += data.Length;
    }

    public void Append(byte b)
    {
        if (_pending == Scratch.Size) Flush();
        Scratch.FormatBuffer[_pending++] = b;
    }

    /// <summary>Writes the staged bytes to the file.</summary>
    public void Flush()
    {
        if (_pending == 0) return;
        int n = _pending;
        _pending = 0;
        Libc.WriteAll(_fd.Value, Scratch.FormatBuffer.AsSpan(0, n));
    }

    public void Sync()
    {
        Flush();
        Errno.Check(Libc.fsync(_fd.Value), "fsync", Path);
    }

    /// <summary>
    /// Syncs and closes the current file, then opens the path again without truncating it:
    /// after an external rename the new file starts empty and the renamed one keeps every byte;
    /// without a rename nothing is lost either. The size limit counts what the file already has.
    /// </summary>
    public void Reopen()
    {
        Sync();
        ReplaceFd(OpenFile(Path, 0, _mode));
        Written = Errno.Check(Libc.lseek(_fd.Value, 0, Libc.SEEK_END), "lseek");
    }

    void ReplaceFd(OwnedFd fd)
    {
        _fd.Dispose();
        _fd = fd;
    }

    public void Dispose()
    {
        try { Flush(); }
        finally { _fd.Dispose(); }
    }
}
