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
/// (<see cref="RpcInputBuffer"/>), and a frame not complete within the stall timeout closes
/// the connection: a peer cannot make the server hold memory it never uses. When the peer shuts
/// down its side, everything it sent is still processed and every answer owed is written before
/// the socket closes.
/// </summary>
public sealed unsafe class RpcConnection : IEventHandler, IRpcOutput, ITimerHandler
{
    /// <summary>Frames up to this size need no budget (every request a real client sends is far smaller).</summary>
    internal const int SmallFrame = RpcInputBuffer.SmallFrame;
    const int OutputHighWater = 64 * 1024;
    /// <summary>An emptied output buffer larger than this is given back rather than kept for the connection's life.</summary>
    const int OutputKeep = 256 * 1024;

    readonly EventLoop _loop;
    readonly RpcServer _server;
    readonly OwnedFd _fd;
    readonly RpcSession _session;
    readonly Registration _reg;
    readonly LoopTimer _stallTimer;
    readonly RpcInputBuffer _in;
    // Past the high-water mark reading stops until the client has taken its answers.
    readonly OutboundBuffer _out = new(OutboundMode.Stream, new QueuePolicy(OutputHighWater, OutputHighWater), OutputKeep, RpcInputBuffer.InitialSize);
    uint _interest;
    bool _inputEnded;
    bool _closed;
    bool _batching;

    public RpcConnection(EventLoop loop, RpcServer server, OwnedFd fd, ICapability bootstrap, int maxMessageBytes)
    {
        _loop = loop;
        _server = server;
        _fd = fd;
        _in = new RpcInputBuffer(server);
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
        bool midFrame = _in.Length > 0 && !_out.Backlogged && !_inputEnded && !_session.IsClosed;
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
        Close(_in.Length > 0 ? "peer closed the connection in the middle of a message" : null);
    }

    /// <summary>The current frame did not complete in time.</summary>
    public void OnTimer(LoopTimer timer)
    {
        if (_closed || _in.Length == 0) return;
        int need = Framing.Check(_in.Data, out int length, _session.MaxMessageBytes) == FrameStatus.NeedMore ? length : 0;
        _session.Abort($"no complete message within {_server.StallTimeoutMs} ms: {_in.Length} of {need} bytes received");
        Flush();
        Settle();
    }

    void ReadFrames()
    {
        while (!_closed && !_session.IsClosed && !_out.Backlogged && !_inputEnded)
        {
            if (_in.Free.IsEmpty && !_in.MakeRoom(_in.Length + 1))
            {
                Refuse(_in.Length + 1);
                return;
            }
            Span<byte> free = _in.Free;
            nint n;
            fixed (byte* p = free) n = Libc.read(_fd.Value, p, (nuint)free.Length);
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
            _in.Filled((int)n);
            ProcessFrames();
        }
    }

    void ProcessFrames()
    {
        while (!_closed && !_session.IsClosed && !_out.Backlogged)
        {
            ReadOnlySpan<byte> buffered = _in.Data;
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
                if (!_in.Expect(length)) Refuse(length);
                return;
            }
            _session.Receive(buffered[..length]);
            _server.NoteActivity();
            _in.Consume(length);
            // A frame completed: the next one gets its own stall deadline.
            if (_stallTimer.IsScheduled) _loop.Timers.Cancel(_stallTimer);
        }
    }

    /// <summary>The server's budget cannot take a frame of <paramref name="frameBytes"/>: the connection is aborted.</summary>
    void Refuse(int frameBytes) =>
        _session.Abort($"message of {frameBytes} bytes does not fit in the server's budget for incomplete messages " +
            $"({_server.ReservedBytes} of {_server.BufferBudgetBytes} bytes held by other connections)");

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
        _in.Release();
        _out.Dispose();
        _server.Forget(this);
    }
}
