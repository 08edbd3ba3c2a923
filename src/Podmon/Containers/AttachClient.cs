using Podmon.Diagnostics;
using Podmon.Logging;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Containers;

/// <summary>
/// One attached client. Output packets are sent straight from the read buffer (two iovecs: the
/// stream byte and the data); a client that cannot keep up gets its packets queued up to
/// <see cref="MaxQueued"/> bytes and is disconnected beyond that, so a stuck client never blocks
/// the container or grows podmon's memory. The container's logs are not affected either way.
/// </summary>
sealed class AttachClient : IEventHandler, IDisposable
{
    const int MaxQueued = 4 * 1024 * 1024;

    readonly EventLoop _loop;
    readonly AttachHub _hub;
    readonly OwnedFd _fd;
    readonly Registration _reg;
    readonly Queue<byte[]> _queue = new();
    int _queued;
    bool _inputEnded, _inputPaused;

    public bool StopAfterStdinEof { get; }

    public AttachClient(EventLoop loop, AttachHub hub, OwnedFd fd, bool stopAfterStdinEof)
    {
        _loop = loop;
        _hub = hub;
        _fd = fd;
        StopAfterStdinEof = stopAfterStdinEof;
        _inputPaused = hub.StdinBusy;
        _reg = loop.Add(fd.Value, _inputPaused ? 0 : Libc.EPOLLIN, this);
    }

    uint Interest => (_inputEnded || _inputPaused ? 0 : Libc.EPOLLIN) | (_queue.Count > 0 ? Libc.EPOLLOUT : 0);

    public unsafe void Send(byte stream, ReadOnlySpan<byte> data)
    {
        if (_fd.IsClosed) return;
        if (_queue.Count > 0)
        {
            Enqueue(stream, data);
            return;
        }
        fixed (byte* p = data)
        {
            var iov = stackalloc Libc.IoVec[2];
            iov[0] = new Libc.IoVec { Base = &stream, Length = 1 };
            iov[1] = new Libc.IoVec { Base = p, Length = (nuint)data.Length };
            var msg = new Libc.MsgHdr { Iov = iov, IovLen = 2 };
            if (Libc.sendmsg(_fd.Value, &msg, Libc.MSG_NOSIGNAL | Libc.MSG_DONTWAIT) >= 0) return;
        }
        int e = Errno.Last;
        if (e is Errno.EAGAIN or Errno.EINTR) Enqueue(stream, data);
        else Dispose();
    }

    void Enqueue(byte stream, ReadOnlySpan<byte> data)
    {
        if (_queued + data.Length + 1 > MaxQueued)
        {
            Log.Warn($"attach client too slow: more than {MaxQueued} bytes pending; disconnecting it");
            Dispose();
            return;
        }
        var packet = new byte[data.Length + 1];
        packet[0] = stream;
        data.CopyTo(packet.AsSpan(1));
        bool first = _queue.Count == 0;
        _queue.Enqueue(packet);
        _queued += packet.Length;
        if (first) _loop.Modify(_reg, Interest);
    }

    public unsafe void OnEvents(uint events)
    {
        if ((events & Libc.EPOLLOUT) != 0) FlushQueue();
        if (_fd.IsClosed) return;
        if ((events & Libc.EPOLLIN) != 0 && !_inputEnded && !_inputPaused) ReadInput();
        else if ((events & (Libc.EPOLLHUP | Libc.EPOLLERR)) != 0) Dispose();
    }

    unsafe void FlushQueue()
    {
        while (_queue.TryPeek(out byte[]? packet))
        {
            fixed (byte* p = packet)
            {
                if (Libc.send(_fd.Value, p, (nuint)packet.Length, Libc.MSG_NOSIGNAL | Libc.MSG_DONTWAIT) < 0)
                {
                    if (Errno.Last is Errno.EAGAIN or Errno.EINTR) return;
                    Dispose();
                    return;
                }
            }
            _queue.Dequeue();
            _queued -= packet.Length;
        }
        if (_closeAfterFlush) { Dispose(); return; }
        _loop.Modify(_reg, Interest);
    }

    unsafe void ReadInput()
    {
        byte* buf = stackalloc byte[AttachHub.PacketSize];
        nint n = Libc.recv(_fd.Value, buf, AttachHub.PacketSize, Libc.MSG_DONTWAIT);
        if (n > 0)
        {
            _hub.Input(new ReadOnlySpan<byte>(buf, (int)n));
            return;
        }
        if (n < 0 && Errno.Last is Errno.EAGAIN or Errno.EINTR) return;
        // EOF (or a reset): the client's stdin ended; it may still read output.
        _inputEnded = true;
        _hub.InputEnded(this);
        if (n < 0) { Dispose(); return; }
        _loop.Modify(_reg, Interest);
    }

    public void PauseInput()
    {
        if (_inputPaused || _fd.IsClosed) return;
        _inputPaused = true;
        _loop.Modify(_reg, Interest);
    }

    public void ResumeInput()
    {
        if (!_inputPaused || _fd.IsClosed) return;
        _inputPaused = false;
        _loop.Modify(_reg, Interest);
    }

    bool _closeAfterFlush;

    public void SendDoneAndClose(bool donePacket = true)
    {
        ReadOnlySpan<byte> none = default;
        if (donePacket) Send(AttachHub.DoneByte, none);
        if (_fd.IsClosed) return;
        if (_queue.Count == 0) Dispose();
        else _closeAfterFlush = true; // flushes the rest on EPOLLOUT, then closes
    }

    public void Dispose()
    {
        if (_fd.IsClosed) return;
        _loop.Remove(_reg);
        _fd.Dispose();
        _hub.Removed(this);
        _queue.Clear();
    }
}
