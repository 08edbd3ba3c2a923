using Podmon.Diagnostics;
using Podmon.Sys;

namespace Podmon.Logging;

/// <summary>
/// A log file of newline-terminated records (each record ends with its only '\n': CRI and JSON
/// both escape or split on newlines) with a hard size limit. Records are staged in the thread's
/// format buffer and written when it fills or at <see cref="Flush"/> (end of every chunk), so
/// nothing is buffered between chunks.
/// <para>Size: <see cref="BeginRecord"/> enforces <see cref="MaxSize"/>: if the next record
/// would push the file past it, the file is truncated to 0 first (reopened by path with O_TRUNC,
/// as conmon does), so the file never exceeds the limit, not even by one line.</para>
/// <para>Write failures (a full disk): the file only ever holds whole records. A write that
/// fails or comes up short is cut back (ftruncate) to the end of the last whole record; that
/// record's rest and everything staged after it are dropped, and every later record is tried
/// again, so logging resumes by itself when space returns. One warning when an episode starts,
/// one with the byte count when it ends: at the first write that succeeds a second or more after
/// the last failure (a nearly full disk lets some writes through: that is still one episode).</para>
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
    int _pending;       // bytes in the format buffer
    int _runStart;      // where its run not yet in an iovec starts
    int _iovCount;      // staged iovecs (Scratch.IoVecs)
    long _staged;       // bytes in them
    bool _created, _truncateOnCommit, _committed;
    long _tail;         // bytes at the end of the file after its last newline: a record being written
    bool _dropping;     // the current record lost a piece: its rest is dropped too
    bool _failing;      // in a write-failure episode
    long _lost;         // bytes of records lost in this episode
    long _lastFailureMs;
    int _errno;         // what started the episode
    const int EpisodeEndMs = 1000;

    public string Path { get; }
    public ulong MaxSize { get; }
    /// <summary>The file's size once the records begun so far are written (what the size limit counts).</summary>
    public long Written { get; private set; }

    LogFile(string path, ulong maxSize, uint mode)
    {
        Path = path;
        MaxSize = maxSize;
        _mode = mode;
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
        f.Written = Errno.Check(Libc.lseek(f._fd.Value, 0, Libc.SEEK_END), "lseek", $"log file '{path}'");
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
        _dropping = false;
        if (MaxSize > 0 && (ulong)(Written + length) > MaxSize)
        {
            Flush();
            Libc.fsync(_fd.Value);
            ReplaceFd(OpenFile(Libc.O_TRUNC));
            _committed = true;
            _truncateOnCommit = false;
            _tail = 0;
            Written = 0;
        }
        Written += length;
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        byte[] buf = Scratch.FormatBuffer;
        if (!_dropping && _pending + data.Length > buf.Length)
        {
            Flush();
            if (!_dropping && data.Length > buf.Length)
            {
                fixed (byte* p = data)
                {
                    Stage(p, data.Length);
                    Flush();
                }
                return;
            }
        }
        if (_dropping)
        {
            _lost += data.Length;
            return;
        }
        data.CopyTo(buf.AsSpan(_pending));
        _pending += data.Length;
    }

    public void Append(byte b)
    {
        if (!_dropping && _pending == Scratch.Size) Flush();
        if (_dropping) _lost++;
        else Scratch.FormatBuffer[_pending++] = b;
    }

    /// <summary>
    /// Appends <paramref name="length"/> bytes at <paramref name="data"/>, which the caller keeps
    /// there (pinned, unchanged) until its <see cref="Flush"/>: a long piece is written from where it
    /// is, in the same writev as the bytes staged around it, instead of being copied.
    /// </summary>
    public void AppendInPlace(byte* data, int length)
    {
        if (length < InPlaceMin || _dropping)
        {
            Append(new ReadOnlySpan<byte>(data, length));
            return;
        }
        if (Scratch.IoVecCount - _iovCount < 2) Flush();
        if (_dropping) _lost += length;
        else Stage(data, length);
    }

    /// <summary>Ends the staged run of format-buffer bytes and queues <paramref name="data"/> after it.</summary>
    void Stage(byte* data, int length)
    {
        EndRun();
        Scratch.IoVecs[_iovCount++] = new Libc.IoVec { Base = data, Length = (nuint)length };
        _staged += length;
    }

    void EndRun()
    {
        if (_pending == _runStart) return;
        Scratch.IoVecs[_iovCount++] = new Libc.IoVec { Base = Scratch.FormatBufferPointer + _runStart, Length = (nuint)(_pending - _runStart) };
        _staged += _pending - _runStart;
        _runStart = _pending;
    }

    /// <summary>Writes the staged bytes to the file, in one writev.</summary>
    public void Flush()
    {
        EndRun();
        if (_iovCount == 0) return;
        int count = _iovCount;
        long total = _staged;
        _iovCount = 0;
        _pending = _runStart = 0;
        _staged = 0;
        WriteOut(Scratch.IoVecs, count, total);
    }

    void WriteOut(Libc.IoVec* iov, int count, long total)
    {
        if (!_committed)
        {
            try { Commit(); }
            catch (SyscallException e) { Log.Error(e.Message); }
        }
        nint n = Libc.writev(_fd.Value, iov, count);
        if (n < 0 && Errno.Last == Errno.EINTR) n = 0;
        long done = Math.Max(0, n);
        if (done < total && !WriteRest(iov, count, total, ref done)) return;
        long after = BytesAfterLastNewline(iov, count, total);
        _tail = after < 0 ? _tail + total : after;
        if (_failing && Libc.MonotonicMs() - _lastFailureMs >= EpisodeEndMs) EndEpisode("");
    }

    /// <summary>A short writev: the rest piece by piece; false (and the file cut back) if it fails.</summary>
    bool WriteRest(Libc.IoVec* iov, int count, long total, ref long done)
    {
        long skip = done;
        for (int i = 0; i < count; i++)
        {
            long len = (long)iov[i].Length;
            if (skip >= len)
            {
                skip -= len;
                continue;
            }
            byte* p = (byte*)iov[i].Base + skip;
            len -= skip;
            skip = 0;
            while (len > 0)
            {
                nint n = Libc.write(_fd.Value, p, (nuint)len);
                if (n > 0)
                {
                    p += n;
                    len -= n;
                    done += n;
                }
                else if (n < 0 && Errno.Last == Errno.EINTR) continue;
                else
                {
                    CutBack(iov, count, total, done, n < 0 ? Errno.Last : Errno.ENOSPC);
                    return false;
                }
            }
        }
        return true;
    }

    /// <summary>How many of the first <paramref name="limit"/> staged bytes follow their last newline; -1 if none has one.</summary>
    static long BytesAfterLastNewline(Libc.IoVec* iov, int count, long limit)
    {
        long start = 0;
        int last = 0;
        for (; last < count && start + (long)iov[last].Length < limit; last++) start += (long)iov[last].Length;
        for (int i = Math.Min(last, count - 1); i >= 0; i--)
        {
            long len = Math.Min((long)iov[i].Length, limit - start);
            int nl = new ReadOnlySpan<byte>(iov[i].Base, (int)len).LastIndexOf((byte)'\n');
            if (nl >= 0) return limit - (start + nl + 1);
            if (i > 0) start -= (long)iov[i - 1].Length;
        }
        return -1;
    }

    /// <summary>
    /// A write failed after <paramref name="done"/> of the <paramref name="total"/> staged bytes: the file is
    /// cut back to the end of its last whole record, the rest of the data and of the current
    /// record are dropped.
    /// </summary>
    void CutBack(Libc.IoVec* iov, int count, long total, long done, int errno)
    {
        long after = BytesAfterLastNewline(iov, count, done);
        long torn = after < 0 ? _tail + done : after;
        long end = Libc.lseek(_fd.Value, 0, Libc.SEEK_END);
        if (end < 0)
            Log.Error($"log file '{Path}': lseek: {Errno.Describe(Errno.Last)}");
        else if (torn > 0 && Libc.ftruncate(_fd.Value, Math.Max(0, end - torn)) < 0)
            Log.Error($"log file '{Path}': cutting back a torn record: ftruncate: {Errno.Describe(Errno.Last)}");
        else
        {
            Written = Math.Max(0, end - torn);
            _tail = 0;
        }
        _lost += torn + total - done;
        _dropping = true;
        _lastFailureMs = Libc.MonotonicMs();
        if (_failing) return;
        _failing = true;
        _errno = errno;
        Log.Warn($"log file '{Path}': write: {Errno.Describe(errno)}: container output is dropped (whole records) until it can be written again");
    }

    void EndEpisode(string how)
    {
        Log.Warn($"log file '{Path}': {Errno.Describe(_errno)}: {_lost} bytes of container output lost{how}");
        _failing = false;
        _lost = 0;
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
        _tail = 0;
        Written = Errno.Check(Libc.lseek(_fd.Value, 0, Libc.SEEK_END), "lseek", $"log file '{Path}'");
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
            if (_failing) EndEpisode(" (until the log was closed)");
        }
        finally { _fd.Dispose(); }
    }
}
