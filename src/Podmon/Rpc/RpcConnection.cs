using Podmon.Capnp;
using Podmon.Capnp.Rpc;
using Podmon.Diagnostics;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Rpc;

/// <summary>
/// One client socket on the loop: reads whole frames and hands them to its <see cref="RpcSession"/>;
/// answers to everything one read brought are written with one send. While too much output waits,
/// it stops reading (the client must read its answers), which also bounds the calls in flight.
/// A frame bigger than <see cref="SmallFrame"/> is buffered only within the server-wide budget
/// (<see cref="RpcServer.TryReserve"/>), and a frame not complete within the stall timeout closes
/// the connection: a peer cannot make the server hold memory it never uses. When the peer shuts
/// down its side, everything it sent is still processed and every answer owed is written before
/// the socket closes.
/// </summary>
public sealed unsafe class RpcConnection : IEventHandler, IRpcOutput, ITimerHandler
{
    const int InitialBuffer = 16 * 1024;
    /// <summary>Frames up to this size need no budget (every request a real client sends is far smaller).</summary>
    internal const int SmallFrame = 64 * 1024;
    const int OutputHighWater = 64 * 1024;
    /// <summary>An emptied output buffer larger than this is given back rather than kept for the connection's life.</summary>
    const int OutputKeep = 256 * 1024;

    readonly EventLoop _loop;
    readonly RpcServer _server;
    readonly OwnedFd _fd;
    readonly RpcSession _session;
    readonly Registration _reg;
    readonly LoopTimer _stallTimer;
    // Own arrays, not ArrayPool.Shared: the pool would keep a burst's big buffers alive, and the
    // idle collector gives them back instead.
    byte[] _in = GC.AllocateUninitializedArray<byte>(InitialBuffer);
    int _inStart, _inEnd;
    int _reserved; // budget held for _in (0 while it is a small buffer)
    // Past the high-water mark reading stops until the client has taken its answers.
    readonly OutboundBuffer _out = new(OutboundMode.Stream, new QueuePolicy(OutputHighWater, OutputHighWater), OutputKeep, InitialBuffer);
    uint _interest;
    bool _inputEnded;
    bool _closed;
    bool _batching;

    public RpcConnection(EventLoop loop, RpcServer server, OwnedFd fd, ICapability bootstrap, int maxMessageBytes)
    {
        _loop = loop;
        _server = server;
        _fd = fd;
        _session = new RpcSession(bootstrap, this, maxMessageBytes);
        _stallTimer = new LoopTimer(this);
        _interest = Libc.EPOLLIN | Libc.EPOLLRDHUP;
        _reg = loop.Add(fd.Value, _interest, this);
    }

    public RpcSession Session => _session;

    public void OnEvents(uint events)
    {
        _batching = true;
        if ((events & Libc.EPOLLOUT) != 0) Flush();
        if (!_closed && !_out.Backlogged)
        {
            ProcessFrames(); // what stayed buffered while output was blocked
            if (!_inputEnded && (events & (Libc.EPOLLIN | Libc.EPOLLHUP | Libc.EPOLLERR | Libc.EPOLLRDHUP)) != 0) ReadFrames();
        }
        _batching = false;
        if (!_closed && _out.Pending > 0) Flush();
        // Input ended and the peer has gone entirely: nothing owed can be delivered any more.
        if (!_closed && _inputEnded && (events & (Libc.EPOLLHUP | Libc.EPOLLERR)) != 0) PeerDone();
        Settle();
    }

    /// <summary>After any progress: close when done, arm or cancel the stall timer, and set the epoll interest.</summary>
    void Settle()
    {
        if (_closed) return;
        bool outputPending = _out.Pending > 0;
        if (_session.IsClosed && !outputPending)
        {
            Close(null);
            return;
        }
        // Half-closed by the peer: done once all it sent is processed and every answer written.
        if (_inputEnded && !_out.Backlogged && !outputPending && _session.PendingCalls == 0)
        {
            PeerDone();
            return;
        }
        bool midFrame = _inEnd > _inStart && !_out.Backlogged && !_inputEnded && !_session.IsClosed;
        if (midFrame && !_stallTimer.IsScheduled) _loop.Timers.Schedule(_stallTimer, Libc.MonotonicMs() + _server.StallTimeoutMs);
        else if (!midFrame && _stallTimer.IsScheduled) _loop.Timers.Cancel(_stallTimer);

        bool reading = !_out.Backlogged && !_inputEnded && !_session.IsClosed;
        uint want = (reading ? Libc.EPOLLIN | Libc.EPOLLRDHUP : 0) | (outputPending ? Libc.EPOLLOUT : 0);
        if (want != _interest)
        {
            _loop.Modify(_reg, want);
            _interest = want;
        }
    }

    void PeerDone()
    {
        _session.Disconnected();
        Close(_inEnd > _inStart ? "peer closed the connection in the middle of a message" : null);
    }

    /// <summary>The current frame did not complete in time.</summary>
    public void OnTimer(LoopTimer timer)
    {
        if (_closed || _inEnd == _inStart) return;
        int need = Framing.Check(new ReadOnlySpan<byte>(_in, _inStart, _inEnd - _inStart), out int length, _session.MaxMessageBytes) == FrameStatus.NeedMore ? length : 0;
        _session.Abort($"no complete message within {_server.StallTimeoutMs} ms: {_inEnd - _inStart} of {need} bytes received");
        Flush();
        Settle();
    }

    void ReadFrames()
    {
        while (!_closed && !_session.IsClosed && !_out.Backlogged && !_inputEnded)
        {
            if (_inEnd == _in.Length && !MakeRoom(_in.Length - _inStart + 1)) return;
            nint n;
            fixed (byte* p = &_in[_inEnd]) n = Libc.read(_fd.Value, p, (nuint)(_in.Length - _inEnd));
            if (n < 0)
            {
                int e = Errno.Last;
                if (e == Errno.EINTR) continue;
                if (e == Errno.EAGAIN) return;
                _session.Disconnected(Errno.Describe(e));
                Close($"read: {Errno.Describe(e)}");
                return;
            }
            if (n == 0)
            {
                // The peer will send nothing more; what it sent is answered before the socket closes.
                _inputEnded = true;
                return;
            }
            _inEnd += (int)n;
            ProcessFrames();
        }
    }

    void ProcessFrames()
    {
        while (!_closed && !_session.IsClosed && !_out.Backlogged)
        {
            var buffered = new ReadOnlySpan<byte>(_in, _inStart, _inEnd - _inStart);
            FrameStatus status;
            int length;
            try
            {
                status = Framing.Check(buffered, out length, _session.MaxMessageBytes);
            }
            catch (CapnpFormatException e)
            {
                _session.Abort($"malformed message: {e.Message}");
                return;
            }
            if (status == FrameStatus.NeedMore)
            {
                if (length > _in.Length - _inStart) MakeRoom(length);
                else if (_reserved > 0 && length <= SmallFrame) Shrink(length);
                return;
            }
            _session.Receive(buffered[..length]);
            _server.NoteActivity();
            _inStart += length;
            if (_inStart == _inEnd) _inStart = _inEnd = 0;
            // A frame completed: the next one gets its own stall deadline.
            if (_stallTimer.IsScheduled) _loop.Timers.Cancel(_stallTimer);
        }
    }

    /// <summary>
    /// Makes the buffer hold at least <paramref name="frameBytes"/> from the unread start. A buffer
    /// over <see cref="SmallFrame"/> is charged to the server's budget; when the budget cannot take it,
    /// the connection is aborted (false).
    /// </summary>
    bool MakeRoom(int frameBytes)
    {
        int used = _inEnd - _inStart;
        if (frameBytes <= _in.Length)
        {
            Buffer.BlockCopy(_in, _inStart, _in, 0, used);
            _inStart = 0;
            _inEnd = used;
            return true;
        }
        int size = frameBytes <= SmallFrame ? Math.Max(frameBytes, Math.Min(2 * _in.Length, SmallFrame)) : frameBytes;
        int charge = size > SmallFrame ? size : 0;
        if (charge > _reserved && !_server.TryReserve(charge - _reserved))
        {
            _session.Abort($"message of {frameBytes} bytes does not fit in the server's budget for incomplete messages " +
                $"({_server.ReservedBytes} of {_server.BufferBudgetBytes} bytes held by other connections)");
            return false;
        }
        if (charge < _reserved) _server.Release(_reserved - charge);
        _reserved = charge;
        Replace(size, used);
        return true;
    }

    /// <summary>The big frame is done: back to a small buffer, and its budget is freed.</summary>
    void Shrink(int nextFrameBytes)
    {
        int used = _inEnd - _inStart;
        Replace(Math.Max(InitialBuffer, Math.Max(used, nextFrameBytes)), used);
        _server.Release(_reserved);
        _reserved = 0;
    }

    void Replace(int size, int used)
    {
        byte[] next = GC.AllocateUninitializedArray<byte>(size);
        Buffer.BlockCopy(_in, _inStart, next, 0, used);
        _in = next;
        _inStart = 0;
        _inEnd = used;
    }

    /// <summary>
    /// Queues a frame. Inside a batch (frames of one read) it is written when the batch ends;
    /// otherwise (an answer given later) right away.
    /// </summary>
    public void Send(ReadOnlySpan<byte> frame)
    {
        if (_closed) return;
        _out.Append(frame);
        if (!_batching || _out.Backlogged) Flush();
        if (!_batching) Settle();
    }

    /// <summary>Writes pending output; what the socket does not take waits for EPOLLOUT.</summary>
    void Flush()
    {
        if (_closed || _out.Flush(_fd.Value) != QueueChange.Failed) return;
        string error = Errno.Describe(_out.Error);
        _session.Disconnected(error);
        Close($"write: {error}");
    }

    /// <summary>Closes the socket (once); <paramref name="reason"/> is logged when not a normal end.</summary>
    public void Close(string? reason)
    {
        if (_closed) return;
        _closed = true;
        if (!_session.IsClosed) _session.Disconnected(reason ?? "server closed the connection");
        if (reason is not null || _session.CloseReason is not (null or "peer disconnected"))
            Log.Warn($"RPC connection closed: {reason ?? _session.CloseReason}");
        if (_stallTimer.IsScheduled) _loop.Timers.Cancel(_stallTimer);
        _loop.Remove(_reg);
        _fd.Dispose();
        _in = [];
        _out.Dispose();
        _server.Release(_reserved);
        _reserved = 0;
        _server.Forget(this);
    }
}
