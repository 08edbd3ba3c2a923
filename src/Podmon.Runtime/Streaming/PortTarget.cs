using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Streaming;

/// <summary>
/// One forwarded port: a non-blocking TCP connection to 127.0.0.1:port, its socket made inside the
/// pod's network namespace. What it sends goes out on the port's data channel; client data that
/// the socket does not take at once waits here while the client's input pauses.
/// </summary>
sealed class PortTarget(PortForwardSession session, int index, ushort port) : IEventHandler, IDisposable
{
    OwnedFd? _fd;
    Registration _reg;
    bool _connected, _paused, _ended;
    // Client data the socket did not take: the client's input pauses while anything waits.
    readonly OutboundBuffer _pending = new(OutboundMode.Stream, new QueuePolicy(highWater: 1, lowWater: 1));

    public int Index => index;
    public ushort Port => port;

    public unsafe void Connect()
    {
        try
        {
            _fd = session.Server.SocketInNetNs(session.NetNsPath);
            Libc.SockaddrIn addr = Libc.SockaddrIn.Loopback(port);
            if (Libc.connect_addr(_fd.Value, &addr, (uint)sizeof(Libc.SockaddrIn)) == 0) _connected = true;
            else if (Errno.Last != Errno.EINPROGRESS) throw new SyscallException("connect", Errno.Last, $"127.0.0.1:{port}");
            _reg = session.Server.Loop.Add(_fd.Value, Interest, this);
        }
        catch (SyscallException e)
        {
            End(e.Message);
        }
    }

    uint Interest => !_connected ? Libc.EPOLLOUT : (_paused ? 0 : Libc.EPOLLIN) | (_pending.Pending > 0 ? Libc.EPOLLOUT : 0);

    public void OnEvents(uint events)
    {
        if (!_connected)
        {
            try { Libc.ConnectResult(_fd!.Value, $"127.0.0.1:{port}"); }
            catch (SyscallException e)
            {
                End(e.Message);
                return;
            }
            _connected = true;
            if (!Flush()) return;
            session.Server.Loop.Modify(_reg, Interest);
            session.Connection.ResumeInput();
            return;
        }
        if ((events & Libc.EPOLLOUT) != 0 && _pending.Pending > 0)
        {
            if (!Flush()) return;
            session.Server.Loop.Modify(_reg, Interest);
            if (_pending.Pending == 0) session.Connection.ResumeInput();
        }
        if ((events & (Libc.EPOLLIN | Libc.EPOLLHUP | Libc.EPOLLERR)) != 0 && !_paused) Read();
    }

    void Read()
    {
        byte[] buf = Scratch.ReadBuffer;
        nint n = Libc.Read(_fd!.Value, buf);
        if (n > 0)
        {
            session.Connection.Send(index * 2, buf.AsSpan(0, (int)n));
            return;
        }
        if (n < 0 && Errno.Last is Errno.EAGAIN or Errno.EINTR) return;
        End(n < 0 ? new SyscallException("read", Errno.Last, $"127.0.0.1:{port}").Message : null); // 0: the pod's side closed
    }

    /// <summary>Client data for the port; false while some of it waits.</summary>
    public bool Write(ReadOnlySpan<byte> data)
    {
        if (_ended) return true;
        bool waited = _pending.Pending > 0;
        // Before the connection is made everything waits; after, it is written at once where it can be.
        QueueChange change = _connected ? _pending.Write(_fd!.Value, data) : _pending.Append(data);
        if (change == QueueChange.Failed)
        {
            End(new SyscallException("send", _pending.Error, $"127.0.0.1:{port}").Message);
            return true;
        }
        if (_pending.Pending == 0) return true;
        if (_connected && !waited) session.Server.Loop.Modify(_reg, Interest);
        return false;
    }

    /// <summary>Sends what waits; false if the connection ended meanwhile.</summary>
    bool Flush()
    {
        if (_pending.Flush(_fd!.Value) != QueueChange.Failed) return true;
        End(new SyscallException("send", _pending.Error, $"127.0.0.1:{port}").Message);
        return false;
    }

    public void SetPaused(bool paused)
    {
        if (_paused == paused) return;
        _paused = paused;
        if (_connected && _fd is { IsClosed: false }) session.Server.Loop.Modify(_reg, Interest);
    }

    /// <summary>The connection is over: with a reason (an error) or without (the pod's side closed).</summary>
    void End(string? error)
    {
        if (_ended) return;
        if (error is not null) session.PortFailed(this, error);
        Dispose();
        session.Connection.ResumeInput(); // in case it waited for this port
        session.PortEnded();
    }

    public void Dispose()
    {
        _ended = true;
        _pending.Dispose();
        if (_fd is null || _fd.IsClosed) return;
        session.Server.Loop.Remove(_reg);
        _fd.Dispose();
    }
}
