using System.Buffers;
using Podmon.Diagnostics;
using Podmon.Logging;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Containers;

/// <summary>
/// One attached client. Output packets are sent straight from the read buffer (two iovecs: the
/// stream byte and the data); what the socket does not take is queued. Past
/// <see cref="HighWater"/> queued bytes the client is <see cref="Backlogged"/>: the hub stops
/// reading the container's output (it waits, as with conmon) until the queue is below
/// <see cref="LowWater"/>, so an attached `podman run` gets every byte. A client that takes
/// nothing for <see cref="StallMs"/> while backlogged, or has <see cref="MaxQueued"/> queued
/// (output read at exit), is disconnected: a stuck client cannot hold the container forever.
/// </summary>
sealed class AttachClient : IEventHandler, ITimerHandler, IDisposable
{
    const int HighWater = 256 * 1024, LowWater = 64 * 1024;
    const int MaxQueued = 8 * 1024 * 1024;
    const int StallMs = 30_000;

    readonly EventLoop _loop;
    readonly AttachHub _hub;
    readonly OwnedFd _fd;
    readonly Registration _reg;
    // Queued packets live in pooled arrays (returned once sent): a lagging client costs its queue, not GC garbage.
    readonly Queue<(byte[] Buffer, int Length)> _queue = new();
    int _queued;
    bool _inputEnded, _inputPaused;
    LoopTimer? _stall;

    /// <summary>Too much queued: the hub holds the container's output back.</summary>
    public bool Backlogged { get; private set; }

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
        byte[] packet = ArrayPool<byte>.Shared.Rent(data.Length + 1);
        packet[0] = stream;
        data.CopyTo(packet.AsSpan(1));
        bool first = _queue.Count == 0;
        _queue.Enqueue((packet, data.Length + 1));
        _queued += data.Length + 1;
        if (first) _loop.Modify(_reg, Interest);
        if (!Backlogged && _queued > HighWater)
        {
            Backlogged = true;
            _loop.Timers.Schedule(_stall ??= new LoopTimer(this), Libc.MonotonicMs() + StallMs);
            _hub.BacklogChanged();
        }
    }

    /// <summary>Backlogged and nothing taken for <see cref="StallMs"/>.</summary>
    public void OnTimer(LoopTimer timer)
    {
        Log.Warn($"attach client took no output for {StallMs / 1000} s; disconnecting it ({_queued} bytes not delivered)");
        Dispose();
    }

    void Progressed()
    {
        if (!Backlogged)
        {
            if (_stall is { IsScheduled: true }) _loop.Timers.Schedule(_stall, Libc.MonotonicMs() + StallMs); // finishing
            return;
        }
        if (_queued < LowWater)
        {
            Backlogged = false;
            _loop.Timers.Cancel(_stall!);
            _hub.BacklogChanged();
        }
        else _loop.Timers.Schedule(_stall!, Libc.MonotonicMs() + StallMs);
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
        int before = _queued;
        while (_queue.TryPeek(out var packet))
        {
            fixed (byte* p = packet.Buffer)
            {
                if (Libc.send(_fd.Value, p, (nuint)packet.Length, Libc.MSG_NOSIGNAL | Libc.MSG_DONTWAIT) < 0)
                {
                    if (Errno.Last is not (Errno.EAGAIN or Errno.EINTR)) Dispose();
                    else if (_queued < before) Progressed();
                    return;
                }
            }
            _queue.Dequeue();
            _queued -= packet.Length;
            ArrayPool<byte>.Shared.Return(packet.Buffer);
        }
        Progressed();
        if (_closeAfterFlush) { Dispose(); return; }
        _loop.Modify(_reg, Interest);
    }

    /// <summary>A packet up to this size is read into a stack buffer; a bigger one (the sender raised its SO_SNDBUF) gets an array.</summary>
    const int StackPacket = 64 * 1024;

    unsafe void ReadInput()
    {
        // A SEQPACKET record is taken whole or its tail is discarded by the kernel: ask its length
        // first (MSG_PEEK | MSG_TRUNC returns the real length without copying), then read it all.
        // podman writes 32 KiB records, conmon reads 32 KiB; nothing bounds them but the sender's buffer.
        nint size = Libc.recv(_fd.Value, null, 0, Libc.MSG_PEEK | Libc.MSG_TRUNC | Libc.MSG_DONTWAIT);
        nint n = size;
        if (size > 0)
        {
            byte[]? big = size > StackPacket ? new byte[size] : null;
            byte* stack = stackalloc byte[big is null ? (int)size : 0];
            fixed (byte* heap = big)
            {
                byte* buf = big is null ? stack : heap;
                n = Libc.recv(_fd.Value, buf, (nuint)size, Libc.MSG_DONTWAIT);
                if (n > 0)
                {
                    _hub.Input(new ReadOnlySpan<byte>(buf, (int)n));
                    return;
                }
            }
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

    /// <summary>Closing once the queued output is taken (at most <see cref="StallMs"/> more).</summary>
    public bool Finishing => _closeAfterFlush;

    public void SendDoneAndClose(bool donePacket = true)
    {
        ReadOnlySpan<byte> none = default;
        if (donePacket) Send(AttachHub.DoneByte, none);
        if (_fd.IsClosed) return;
        if (_queue.Count == 0) { Dispose(); return; }
        _closeAfterFlush = true; // flushes the rest on EPOLLOUT, then closes
        _hub.FinishingChanged(+1);
        if (!Backlogged) _loop.Timers.Schedule(_stall ??= new LoopTimer(this), Libc.MonotonicMs() + StallMs);
    }

    public void Dispose()
    {
        if (_fd.IsClosed) return;
        _loop.Remove(_reg);
        _fd.Dispose();
        while (_queue.TryDequeue(out var packet)) ArrayPool<byte>.Shared.Return(packet.Buffer);
        _queued = 0;
        if (_stall is { IsScheduled: true }) _loop.Timers.Cancel(_stall);
        Backlogged = false;
        if (_closeAfterFlush) _hub.FinishingChanged(-1);
        _hub.Removed(this);
    }
}
