using Podmon.Diagnostics;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Containers;

/// <summary>
/// One attached client. Output packets are sent straight from the read buffer (two iovecs: the
/// stream byte and the data); what the socket does not take is queued (<see cref="OutboundBuffer"/>,
/// one record per packet). Past <see cref="HighWater"/> queued bytes the client is backlogged and
/// holds the hub's <see cref="OutputGate"/>: the container's output waits (as with conmon) until the
/// queue is below <see cref="LowWater"/>, so an attached `podman run` gets every byte. A client that
/// takes nothing for <see cref="StallMs"/> while backlogged or finishing, or would have more than
/// <see cref="MaxQueued"/> queued (output read at exit), is disconnected: a stuck client cannot hold
/// the container forever.
/// </summary>
sealed class AttachClient : IEventHandler, ITimerHandler, IDisposable
{
    internal const int HighWater = 128 * 1024, LowWater = 32 * 1024;
    // The most a client can have queued while the reads are paused: the high water plus the read that crossed it.
    const int Backlog = HighWater + 2 * 64 * 1024;
    internal const int MaxQueued = 8 * 1024 * 1024;
    internal const int StallMs = 30_000;

    readonly EventLoop _loop;
    readonly AttachHub _hub;
    readonly OwnedFd _fd;
    readonly Registration _reg;
    // One buffer of the backlog size, made when first needed and kept while attached: a held-back stream fills and
    // drains it over and over, and growing to it by doubling would leave ~1 MB of garbage arrays behind.
    readonly OutboundBuffer _out = new(OutboundMode.Packets, new QueuePolicy(HighWater, LowWater, MaxQueued, StallMs), keepBytes: Backlog, minBytes: Backlog);
    bool _inputEnded, _inputPaused, _closeAfterFlush;
    LoopTimer? _stall;

    public bool StopAfterStdinEof { get; }

    /// <summary>Closing once the queued output is taken (at most <see cref="StallMs"/> more).</summary>
    public bool Finishing => _closeAfterFlush;

    public AttachClient(EventLoop loop, AttachHub hub, OwnedFd fd, bool stopAfterStdinEof)
    {
        _loop = loop;
        _hub = hub;
        _fd = fd;
        StopAfterStdinEof = stopAfterStdinEof;
        _inputPaused = hub.StdinBusy;
        _reg = loop.Add(fd.Value, _inputPaused ? 0 : Libc.EPOLLIN, this);
    }

    uint Interest => (_inputEnded || _inputPaused ? 0 : Libc.EPOLLIN) | (_out.Pending > 0 ? Libc.EPOLLOUT : 0);

    public void Send(byte stream, ReadOnlySpan<byte> data)
    {
        if (_fd.IsClosed) return;
        bool queued = _out.Pending > 0;
        Changed(_out.Write(_fd.Value, stream, data));
        if (!queued && _out.Pending > 0 && !_fd.IsClosed) _loop.Modify(_reg, Interest);
    }

    /// <summary>Acts on what a write or flush did to the queue.</summary>
    void Changed(QueueChange change)
    {
        switch (change)
        {
            case QueueChange.Failed:
                Dispose();
                return;
            case QueueChange.Overflow:
                Log.Warn($"attach client too slow: more than {MaxQueued} bytes pending; disconnecting it");
                Dispose();
                return;
            case QueueChange.Backlogged: _hub.Gate.Hold(); break;
            case QueueChange.Relieved: _hub.Gate.Release(); break;
        }
        if (_out.Policy.StallDeadline != 0 && _stall is not { IsScheduled: true })
            _loop.Timers.Schedule(_stall ??= new LoopTimer(this), _out.Policy.StallDeadline);
    }

    /// <summary>The stall deadline passed, or moved on since the timer was set.</summary>
    public void OnTimer(LoopTimer timer)
    {
        if (_fd.IsClosed || _out.Policy.StallDeadline == 0) return;
        if (!_out.Policy.IsStalled)
        {
            _loop.Timers.Schedule(timer, _out.Policy.StallDeadline);
            return;
        }
        Log.Warn($"attach client took no output for {StallMs / 1000} s; disconnecting it ({_out.Pending} bytes not delivered)");
        Dispose();
    }

    public void OnEvents(uint events)
    {
        if ((events & Libc.EPOLLOUT) != 0) FlushQueue();
        if (_fd.IsClosed) return;
        if ((events & Libc.EPOLLIN) != 0 && !_inputEnded && !_inputPaused) ReadInput();
        else if ((events & (Libc.EPOLLHUP | Libc.EPOLLERR)) != 0) Dispose();
    }

    void FlushQueue()
    {
        Changed(_out.Flush(_fd.Value));
        if (_fd.IsClosed || _out.Pending > 0) return;
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

    public void SendDoneAndClose(bool donePacket = true)
    {
        ReadOnlySpan<byte> none = default;
        if (donePacket) Send(AttachHub.DoneByte, none);
        if (_fd.IsClosed) return;
        if (_out.Pending == 0) { Dispose(); return; }
        _closeAfterFlush = true; // flushes the rest on EPOLLOUT, then closes
        _out.Policy.Finish();
        Changed(QueueChange.None);
    }

    public void Dispose()
    {
        if (_fd.IsClosed) return;
        _loop.Remove(_reg);
        _fd.Dispose();
        if (_out.Backlogged) _hub.Gate.Release();
        _out.Dispose();
        if (_stall is { IsScheduled: true }) _loop.Timers.Cancel(_stall);
        _hub.Removed(this);
    }
}
