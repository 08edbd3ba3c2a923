namespace Podmon.Sys;

/// <summary>How an <see cref="OutboundBuffer"/> writes: write(2) on a pipe or pty, send(2) on a stream socket, or one record per send on SOCK_SEQPACKET.</summary>
public enum OutboundMode { Pipe, Stream, Packets }

/// <summary>What a write or flush did to the queue (besides writing).</summary>
public enum QueueChange { None, Backlogged, Relieved, Overflow, Failed }

/// <summary>
/// The one write-and-queue of podmon's non-blocking fds (RPC answers, attach clients, container
/// stdin, WebSocket clients, forwarded ports): a write goes straight to the fd while nothing waits, and what the fd does not take is
/// queued, in order, for <see cref="Flush"/> on EPOLLOUT. A header and its payload go out as one
/// gathered write. In <see cref="OutboundMode.Packets"/> a record is sent whole or queued whole (a
/// record boundary is never lost). The queue is one
/// contiguous buffer of its own (<see cref="BufferPool"/>'s rule for buffers that live at a peer's
/// pace); an emptied buffer bigger than keepBytes is dropped, so a burst does not stay with the
/// connection. The watermarks and
/// stall rule are its <see cref="QueuePolicy"/>; a hard error is <see cref="QueueChange.Failed"/>
/// with <see cref="Error"/> set, and the owner closes the fd.
/// </summary>
public sealed unsafe class OutboundBuffer(OutboundMode mode, QueuePolicy policy, int keepBytes = 0, int minBytes = 8192) : IDisposable
{
    const int SendFlags = Libc.MSG_NOSIGNAL | Libc.MSG_DONTWAIT;

    byte[] _buf = [];
    int _start, _end;
    int[] _records = []; // Packets: queued record lengths, a ring
    int _recordHead, _recordCount;

    public QueuePolicy Policy { get; } = policy;
    public OutboundMode Mode { get; } = mode;
    /// <summary>Queued bytes (record prefixes included).</summary>
    public int Pending => _end - _start;
    public bool Backlogged => Policy.Backlogged;
    /// <summary>The errno of the last <see cref="QueueChange.Failed"/>.</summary>
    public int Error { get; private set; }

    /// <summary>Writes <paramref name="data"/> (one record in packet mode), queueing what the fd does not take now.</summary>
    public QueueChange Write(int fd, ReadOnlySpan<byte> data) => Write(fd, ReadOnlySpan<byte>.Empty, data);

    /// <summary>Packet mode: the record <paramref name="prefix"/> (one byte) + <paramref name="data"/>.</summary>
    public QueueChange Write(int fd, int prefix, ReadOnlySpan<byte> data)
    {
        byte head = (byte)prefix;
        return Write(fd, new ReadOnlySpan<byte>(in head), data);
    }

    /// <summary>
    /// <paramref name="head"/> + <paramref name="data"/> as one unit (a record in packet mode, a
    /// frame header and its payload on a stream), gathered from both spans in one call: nothing
    /// is copied unless the fd does not take it all, and then only what is left is queued.
    /// </summary>
    public QueueChange Write(int fd, ReadOnlySpan<byte> head, ReadOnlySpan<byte> data)
    {
        if (Pending > 0) return Append(head, data);
        int total = head.Length + data.Length, done = 0;
        while (done < total)
        {
            nint n = done < head.Length ? Gather(fd, head[done..], data) : WriteBytes(fd, data[(done - head.Length)..]);
            if (n >= 0)
            {
                done = Mode == OutboundMode.Packets ? total : done + (int)n; // a record goes whole
                continue;
            }
            int e = Errno.Last;
            if (e == Errno.EINTR && Mode != OutboundMode.Packets) continue;
            if (e is Errno.EAGAIN or Errno.EINTR) break;
            return Fail(e);
        }
        if (done == total) return QueueChange.None;
        return done < head.Length ? Append(head[done..], data) : Append(default, data[(done - head.Length)..]);
    }

    /// <summary>Queues without writing (the owner flushes later, e.g. once per batch).</summary>
    public QueueChange Append(ReadOnlySpan<byte> data) => Append(default, data);

    QueueChange Append(ReadOnlySpan<byte> head, ReadOnlySpan<byte> data)
    {
        int length = head.Length + data.Length;
        if (!Policy.Admits(Pending, length)) return QueueChange.Overflow;
        MakeRoom(length);
        head.CopyTo(_buf.AsSpan(_end));
        data.CopyTo(_buf.AsSpan(_end + head.Length));
        _end += length;
        if (Mode == OutboundMode.Packets) PushRecord(length);
        return Policy.Queued(Pending) ? QueueChange.Backlogged : QueueChange.None;
    }

    /// <summary>Writes queued bytes until the fd would block.</summary>
    public QueueChange Flush(int fd)
    {
        int before = Pending;
        while (Pending > 0)
        {
            int length = Mode == OutboundMode.Packets ? _records[_recordHead] : Pending;
            nint n;
            fixed (byte* p = &_buf[_start])
                n = Mode == OutboundMode.Packets ? Libc.send(fd, p, (nuint)length, SendFlags) : WriteBytes(fd, p, length);
            if (n < 0)
            {
                int e = Errno.Last;
                if (e == Errno.EINTR && Mode != OutboundMode.Packets) continue;
                if (e is Errno.EAGAIN or Errno.EINTR) break;
                return Fail(e);
            }
            if (Mode == OutboundMode.Packets)
            {
                n = length; // a record goes whole
                _recordHead = (_recordHead + 1) % _records.Length;
                _recordCount--;
            }
            _start += (int)n;
        }
        if (Pending == 0) Emptied();
        return Policy.Taken(Pending, Pending < before) ? QueueChange.Relieved : QueueChange.None;
    }

    /// <summary>Drops what is queued and the buffer.</summary>
    public void Dispose()
    {
        _start = _end = 0;
        _recordCount = 0;
        _buf = [];
    }

    nint WriteBytes(int fd, byte* p, int length) =>
        Mode == OutboundMode.Pipe ? Libc.write(fd, p, (nuint)length) : Libc.send(fd, p, (nuint)length, SendFlags);

    nint WriteBytes(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data) return WriteBytes(fd, p, data.Length);
    }

    /// <summary>Both spans in one writev (pipe) or sendmsg (sockets; for a record, the record).</summary>
    nint Gather(int fd, ReadOnlySpan<byte> head, ReadOnlySpan<byte> data)
    {
        fixed (byte* h = head)
        fixed (byte* p = data)
        {
            var iov = stackalloc Libc.IoVec[2];
            iov[0] = new Libc.IoVec { Base = h, Length = (nuint)head.Length };
            iov[1] = new Libc.IoVec { Base = p, Length = (nuint)data.Length };
            if (Mode == OutboundMode.Pipe) return Libc.writev(fd, iov, 2);
            var msg = new Libc.MsgHdr { Iov = iov, IovLen = 2 };
            return Libc.sendmsg(fd, &msg, SendFlags);
        }
    }

    QueueChange Fail(int errno)
    {
        Error = errno;
        return QueueChange.Failed;
    }

    void MakeRoom(int length)
    {
        if (_buf.Length - _end >= length) return;
        int pending = Pending;
        byte[] target = _buf.Length >= pending + length ? _buf
            : GC.AllocateUninitializedArray<byte>(Math.Max(pending + length, Math.Max(2 * _buf.Length, minBytes)));
        Buffer.BlockCopy(_buf, _start, target, 0, pending);
        _buf = target;
        _start = 0;
        _end = pending;
    }

    void PushRecord(int length)
    {
        if (_recordCount == _records.Length)
        {
            var next = new int[Math.Max(16, 2 * _records.Length)];
            for (int i = 0; i < _recordCount; i++) next[i] = _records[(_recordHead + i) % _records.Length];
            _records = next;
            _recordHead = 0;
        }
        _records[(_recordHead + _recordCount++) % _records.Length] = length;
    }

    void Emptied()
    {
        _start = _end = 0;
        _recordHead = 0;
        if (_buf.Length > keepBytes) _buf = [];
    }
}
