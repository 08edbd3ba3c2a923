using Podmon.Diagnostics;
using Podmon.Sys;

namespace Podmon.Logging;

/// <summary>
/// A log file of newline-terminated records (each record ends with its only '\n': CRI and JSON
/// both escape or split on newlines) with a hard size limit, as the log drivers see it. Records
/// are staged (<see cref="RecordStaging"/>) and written when the staging fills or at
/// <see cref="Flush"/> (end of every chunk), so nothing is buffered between chunks; the writes keep
/// the file to whole records when they fail (<see cref="WholeRecordWriter"/>: a full disk).
/// <para>Size: <see cref="BeginRecord"/> enforces <see cref="MaxSize"/>: if the next record
/// would push the file past it, the file is truncated to 0 first (reopened by path with O_TRUNC,
/// as conmon does), so the file never exceeds the limit, not even by one line.</para>
/// <para>Creation: opening neither creates-and-keeps nor truncates for good. A file that was
/// there is emptied (<see cref="Create"/>) only at <see cref="Commit"/> or the first write, so a
/// container that never came to exist leaves it untouched, and <see cref="Discard"/> removes a
/// file this object created and never wrote.</para>
/// </summary>
public sealed unsafe class LogFile : IDisposable
{
    const int Flags = Libc.O_WRONLY | Libc.O_APPEND | Libc.O_CLOEXEC;
    /// <summary>Shorter pieces are copied into the format buffer: an iovec costs more than copying them.</summary>
    const int InPlaceMin = 4096;

    readonly uint _mode;
    OwnedFd _fd;
    readonly RecordStaging _staging = new();
    readonly WholeRecordWriter _writer;
    bool _created, _truncateOnCommit, _committed;
    long _written;

    public string Path { get; }
    public ulong MaxSize { get; }
    /// <summary>The file's size once the records begun so far are written (what the size limit counts).</summary>
    public long Written => _written;

    LogFile(string path, ulong maxSize, uint mode)
    {
        Path = path;
        MaxSize = maxSize;
        _mode = mode;
        _writer = new WholeRecordWriter(path);
        _fd = OpenNew(out _created);
    }

    /// <summary>A log that starts empty (conmon-rs); a file already there is emptied at <see cref="Commit"/>.</summary>
    public static LogFile Create(string path, ulong maxSize, uint mode)
    {
        var f = new LogFile(path, maxSize, mode);
        f._truncateOnCommit = !f._created;
        return f;
    }

    /// <summary>Opens for appending, keeping what the file has (conmon); the size limit counts it.</summary>
    public static LogFile Append(string path, ulong maxSize, uint mode)
    {
        var f = new LogFile(path, maxSize, mode);
        f._written = Errno.Check(Libc.lseek(f._fd.Value, 0, Libc.SEEK_END), "lseek", $"log file '{path}'");
        return f;
    }

    OwnedFd OpenNew(out bool created)
    {
        int fd = Libc.open(Path, Flags | Libc.O_CREAT | Libc.O_EXCL, (int)_mode);
        created = fd >= 0;
        if (fd < 0 && Errno.Last == Errno.EEXIST) fd = Libc.open(Path, Flags | Libc.O_CREAT, (int)_mode);
        return OwnedFd.Check(fd, "open", $"log file '{Path}'");
    }

    OwnedFd OpenFile(int extra) =>
        OwnedFd.Check(Libc.open(Path, Flags | Libc.O_CREAT | extra, (int)_mode), "open", $"log file '{Path}'");

    /// <summary>The container exists: the file is the log now (emptied if it was there before).</summary>
    public void Commit()
    {
        if (_committed) return;
        _committed = true;
        if (!_truncateOnCommit) return;
        _truncateOnCommit = false;
        Errno.Check(Libc.ftruncate(_fd.Value, 0), "ftruncate", $"log file '{Path}'");
    }

    /// <summary>The container never came to exist: removes the file if this object created it and wrote nothing.</summary>
    public void Discard()
    {
        if (_created && !_committed) Libc.unlink(Path);
        _created = false;
    }

    /// <summary>Makes room for a record of <paramref name="length"/> bytes (≤ MaxSize).</summary>
    public void BeginRecord(int length)
    {
        _writer.BeginRecord();
        if (MaxSize > 0 && (ulong)(_written + length) > MaxSize)
        {
            Flush();
            Libc.fsync(_fd.Value);
            ReplaceFd(OpenFile(Libc.O_TRUNC));
            _committed = true;
            _truncateOnCommit = false;
            _writer.FileReplaced();
            _written = 0;
        }
        _written += length;
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        if (!_writer.Dropping && !_staging.Fits(data.Length))
        {
            Flush();
            if (!_writer.Dropping && data.Length > Scratch.Size)
            {
                fixed (byte* p = data)
                {
                    _staging.Stage(p, data.Length);
                    Flush();
                }
                return;
            }
        }
        if (_writer.Dropping) _writer.Lose(data.Length);
        else _staging.Copy(data);
    }

    public void Append(byte b)
    {
        if (!_writer.Dropping && _staging.IsFull) Flush();
        if (_writer.Dropping) _writer.Lose(1);
        else _staging.Copy(b);
    }

    /// <summary>
    /// Appends <paramref name="length"/> bytes at <paramref name="data"/>, which the caller keeps
    /// there (pinned, unchanged) until its <see cref="Flush"/>: a long piece is written from where it
    /// is, in the same writev as the bytes staged around it, instead of being copied.
    /// </summary>
    public void AppendInPlace(byte* data, int length)
    {
        if (length < InPlaceMin || _writer.Dropping)
        {
            Append(new ReadOnlySpan<byte>(data, length));
            return;
        }
        if (!_staging.HasRoomInPlace) Flush();
        if (_writer.Dropping) _writer.Lose(length);
        else _staging.Stage(data, length);
    }

    /// <summary>Writes the staged bytes to the file, in one writev.</summary>
    public void Flush()
    {
        if (!_staging.Take(out Libc.IoVec* iov, out int count, out long total)) return;
        if (!_committed)
        {
            try { Commit(); }
            catch (SyscallException e) { Log.Error(e.Message); }
        }
        _writer.Write(_fd.Value, iov, count, total, ref _written);
    }

    /// <summary>Writes what is staged and returns the fd for an fsync done elsewhere (<see cref="RingLogSync"/>).</summary>
    internal int FlushForSync()
    {
        Flush();
        return _fd.Value;
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
        ReplaceFd(OpenFile(0));
        _committed = true;
        _truncateOnCommit = false;
        _writer.FileReplaced();
        _written = Errno.Check(Libc.lseek(_fd.Value, 0, Libc.SEEK_END), "lseek", $"log file '{Path}'");
    }

    void ReplaceFd(OwnedFd fd)
    {
        _fd.Dispose();
        _fd = fd;
    }

    public void Dispose()
    {
        try
        {
            Flush();
            _writer.Close();
        }
        finally { _fd.Dispose(); }
    }
}
