using Podmon.Capnp;
using Podmon.Capnp.Rpc;
using Podmon.Diagnostics;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Rpc;

/// <summary>
/// One client socket on the loop: reads whole frames into a pooled buffer and hands them to its
/// <see cref="RpcSession"/>; answers to everything one read brought are written with one send.
/// While too much output waits, it stops reading (the client must read its answers), which also
/// bounds the calls in flight and the memory they hold.
/// </summary>
public sealed unsafe class RpcConnection : IEventHandler, IRpcOutput
{
    const int InitialBuffer = 16 * 1024;
    const int OutputHighWater = 64 * 1024;

    readonly EventLoop _loop;
    readonly RpcServer _server;
    readonly OwnedFd _fd;
    readonly RpcSession _session;
    readonly Registration _reg;
    // Own arrays, not ArrayPool.Shared: the pool would keep a burst's big buffers alive, and the
    // idle collector gives them back instead.
    byte[] _in = GC.AllocateUninitializedArray<byte>(InitialBuffer);
    int _inStart, _inEnd;
    byte[] _out = [];
    int _outStart, _outEnd;
    bool _writeBlocked;
    bool _closed;
    bool _batching;
    bool _waitingWritable;

    public RpcConnection(EventLoop loop, RpcServer server, OwnedFd fd, ICapability bootstrap, int maxMessageBytes)
    {
        _loop = loop;
        _server = server;
        _fd = fd;
        _session = new RpcSession(bootstrap, this, maxMessageBytes);
        _reg = loop.Add(fd.Value, Libc.EPOLLIN | Libc.EPOLLRDHUP, this);
    }

    public RpcSession Session => _session;

    public void OnEvents(uint events)
    {
        _batching = true;
        if ((events & Libc.EPOLLOUT) != 0) Flush();
        if (!_closed && !_writeBlocked)
        {
            ProcessFrames(); // what stayed buffered while output was blocked
            if ((events & (Libc.EPOLLIN | Libc.EPOLLHUP | Libc.EPOLLERR | Libc.EPOLLRDHUP)) != 0) ReadFrames();
        }
        _batching = false;
        if (!_closed && _outEnd > _outStart) Flush();
        if (!_closed && _session.IsClosed && _outEnd == _outStart) Close(null);
    }

    void ReadFrames()
    {
        while (!_closed && !_session.IsClosed)
        {
            if (_inEnd == _in.Length) MakeRoom(_in.Length - _inStart + 1);
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
                _session.Disconnected();
                Close(_inEnd > _inStart ? "peer closed the connection in the middle of a message" : null);
                return;
            }
            _inEnd += (int)n;
            ProcessFrames();
            if (_writeBlocked) return;
        }
    }

    void ProcessFrames()
    {
        while (!_session.IsClosed && !_writeBlocked)
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
                return;
            }
            _session.Receive(buffered[..length]);
            _server.NoteActivity();
            _inStart += length;
            if (_inStart == _inEnd) _inStart = _inEnd = 0;
        }
    }

    /// <summary>Makes the buffer hold at least <paramref name="frameBytes"/> from the unread start.</summary>
    void MakeRoom(int frameBytes)
    {
        int used = _inEnd - _inStart;
        if (frameBytes <= _in.Length)
        {
            Buffer.BlockCopy(_in, _inStart, _in, 0, used);
        }
        else
        {
            byte[] bigger = GC.AllocateUninitializedArray<byte>(frameBytes);
            Buffer.BlockCopy(_in, _inStart, bigger, 0, used);
            _in = bigger;
        }
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
        Append(frame);
        if (!_batching || _outEnd - _outStart >= OutputHighWater) Flush();
    }

    /// <summary>Writes what the socket takes now: bytes written, or -1 when the peer is gone.</summary>
    int WriteSome(ReadOnlySpan<byte> data)
    {
        int done = 0;
        fixed (byte* p = data)
        {
            while (done < data.Length)
            {
                nint n = Libc.send(_fd.Value, p + done, (nuint)(data.Length - done), Libc.MSG_NOSIGNAL | Libc.MSG_DONTWAIT);
                if (n >= 0) { done += (int)n; continue; }
                int e = Errno.Last;
                if (e == Errno.EINTR) continue;
                if (e == Errno.EAGAIN) break;
                _session.Disconnected(Errno.Describe(e));
                Close($"write: {Errno.Describe(e)}");
                return -1;
            }
        }
        return done;
    }

    void Append(ReadOnlySpan<byte> data)
    {
        if (_out.Length - _outEnd < data.Length)
        {
            int pending = _outEnd - _outStart;
            byte[] target = _out.Length >= pending + data.Length ? _out : GC.AllocateUninitializedArray<byte>(Math.Max(pending + data.Length, Math.Max(2 * _out.Length, InitialBuffer)));
            Buffer.BlockCopy(_out, _outStart, target, 0, pending);
            _out = target;
            _outStart = 0;
            _outEnd = pending;
        }
        data.CopyTo(_out.AsSpan(_outEnd));
        _outEnd += data.Length;
    }

    /// <summary>Writes pending output; what the socket does not take waits for EPOLLOUT, and past the high-water mark reading stops.</summary>
    void Flush()
    {
        int n = WriteSome(new ReadOnlySpan<byte>(_out, _outStart, _outEnd - _outStart));
        if (n < 0) return;
        _outStart += n;
        int pending = _outEnd - _outStart;
        if (pending > 0)
        {
            bool block = pending >= OutputHighWater;
            if (!_waitingWritable || block != _writeBlocked)
                _loop.Modify(_reg, Libc.EPOLLOUT | Libc.EPOLLRDHUP | (block ? 0 : Libc.EPOLLIN));
            _waitingWritable = true;
            _writeBlocked = block;
            return;
        }
        _outStart = _outEnd = 0;
        _writeBlocked = false;
        if (_waitingWritable && !_session.IsClosed) _loop.Modify(_reg, Libc.EPOLLIN | Libc.EPOLLRDHUP);
        _waitingWritable = false;
    }

    /// <summary>Closes the socket (once); <paramref name="reason"/> is logged when not a normal end.</summary>
    public void Close(string? reason)
    {
        if (_closed) return;
        _closed = true;
        if (!_session.IsClosed) _session.Disconnected(reason ?? "server closed the connection");
        if (reason is not null || _session.CloseReason is not (null or "peer disconnected"))
            Log.Warn($"RPC connection closed: {reason ?? _session.CloseReason}");
        _loop.Remove(_reg);
        _fd.Dispose();
        _in = _out = [];
        _server.Forget(this);
    }
}
