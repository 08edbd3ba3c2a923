using Podmon.Diagnostics;
using Podmon.Sys;

namespace Podmon.Logging;

/// <summary>
/// Writes a <see cref="LogFile"/>'s staged bytes so that the file only ever holds whole records,
/// even when writes fail (a full disk). A write that fails or comes up short is cut back
/// (ftruncate) to the end of the last whole record; that record's rest and everything staged after
/// it are dropped (<see cref="Dropping"/> until the next record begins), and every later record is
/// tried again, so logging resumes by itself when space returns. One warning when an episode
/// starts, one with the byte count when it ends: at the first write that succeeds a second or more
/// after the last failure (a nearly full disk lets some writes through: that is still one episode),
/// or when the log is closed.
/// </summary>
sealed unsafe class WholeRecordWriter(string path)
{
    const int EpisodeEndMs = 1000;

    long _tail;         // bytes at the end of the file after its last newline: a record being written
    bool _dropping;     // the current record lost a piece: its rest is dropped too
    bool _failing;      // in a write-failure episode
    long _lost;         // bytes of records lost in this episode
    long _lastFailureMs;
    int _errno;         // what started the episode

    /// <summary>The current record lost a piece to a failed write: its rest is dropped, not written.</summary>
    public bool Dropping => _dropping;

    /// <summary>A record begins: it is written again, whatever happened to the one before.</summary>
    public void BeginRecord() => _dropping = false;

    /// <summary>Counts bytes of the current record dropped before they were staged.</summary>
    public void Lose(long bytes) => _lost += bytes;

    /// <summary>The file was replaced or emptied: it ends with a whole record.</summary>
    public void FileReplaced() => _tail = 0;

    /// <summary>
    /// Writes <paramref name="total"/> bytes in <paramref name="count"/> iovecs to <paramref name="fd"/>;
    /// after a failure the file is cut back and <paramref name="written"/> (the file's size as the size
    /// limit counts it) set to what it holds.
    /// </summary>
    public void Write(int fd, Libc.IoVec* iov, int count, long total, ref long written)
    {
        nint n = Libc.writev(fd, iov, count);
        if (n < 0 && Errno.Last == Errno.EINTR) n = 0;
        long done = Math.Max(0, n);
        if (done < total && !WriteRest(fd, iov, count, total, ref done, ref written)) return;
        long after = BytesAfterLastNewline(iov, count, total);
        _tail = after < 0 ? _tail + total : after;
        if (_failing && Libc.MonotonicMs() - _lastFailureMs >= EpisodeEndMs) EndEpisode("");
    }

    /// <summary>The log is closed: an episode still open ends with its count.</summary>
    public void Close()
    {
        if (_failing) EndEpisode(" (until the log was closed)");
    }

    /// <summary>A short writev: the rest piece by piece; false (and the file cut back) if it fails.</summary>
    bool WriteRest(int fd, Libc.IoVec* iov, int count, long total, ref long done, ref long written)
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
                nint n = Libc.write(fd, p, (nuint)len);
                if (n > 0)
                {
                    p += n;
                    len -= n;
                    done += n;
                }
                else if (n < 0 && Errno.Last == Errno.EINTR) continue;
                else
                {
                    CutBack(fd, iov, count, total, done, n < 0 ? Errno.Last : Errno.ENOSPC, ref written);
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
    void CutBack(int fd, Libc.IoVec* iov, int count, long total, long done, int errno, ref long written)
    {
        long after = BytesAfterLastNewline(iov, count, done);
        long torn = after < 0 ? _tail + done : after;
        long end = Libc.lseek(fd, 0, Libc.SEEK_END);
        if (end < 0)
            Log.Error($"log file '{path}': lseek: {Errno.Describe(Errno.Last)}");
        else if (torn > 0 && Libc.ftruncate(fd, Math.Max(0, end - torn)) < 0)
            Log.Error($"log file '{path}': cutting back a torn record: ftruncate: {Errno.Describe(Errno.Last)}");
        else
        {
            written = Math.Max(0, end - torn);
            _tail = 0;
        }
        _lost += torn + total - done;
        _dropping = true;
        _lastFailureMs = Libc.MonotonicMs();
        if (_failing) return;
        _failing = true;
        _errno = errno;
        Log.Warn($"log file '{path}': write: {Errno.Describe(errno)}: container output is dropped (whole records) until it can be written again");
    }

    void EndEpisode(string how)
    {
        Log.Warn($"log file '{path}': {Errno.Describe(_errno)}: {_lost} bytes of container output lost{how}");
        _failing = false;
        _lost = 0;
    }
}
