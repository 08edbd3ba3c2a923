using Podmon.Diagnostics;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Streaming;

/// <summary>What a <see cref="StreamSocket"/> tells its <see cref="StreamConnection"/>.</summary>
interface IStreamSocketOwner
{
    /// <summary>New bytes are in <see cref="StreamSocket.Input"/>.</summary>
    void OnInput();

    /// <summary>The input buffer is full and nothing in it was consumed (only a request head can do that).</summary>
    void OnInputFull();

    /// <summary>EOF, reset, a write error or a peer too slow to read: the client is gone.</summary>
    void OnGone();

    /// <summary>Queued output passed the high-water mark (true) or fell below the low one (false).</summary>
    void OnOutputHeld(bool held);
}

/// <summary>
/// The TCP socket of one streaming client, and nothing of HTTP or WebSocket: this type owns the
/// fd and its loop registration. Input streams through one fixed buffer of
/// <see cref="HttpRequestHead.MaxSize"/> bytes, which the owner consumes in place, so a frame of
/// any size costs no more memory. Output goes out straight from the caller's span (writev of
/// header and payload); what the socket does not take is queued, and past <see cref="HighWater"/>
/// the owner is told to hold its source back. <see cref="CloseAfterFlush"/> shuts our side once
/// the queue is sent and then reads and drops until the peer closes too. Timeouts are the owner's.
/// </summary>
sealed class StreamSocket : IEventHandler
{
    internal const int HighWater = 256 * 1024, LowWater = 64 * 1024, MaxQueued = 8 * 1024 * 1024;

    readonly EventLoop _loop;
    readonly OwnedFd _fd;
    readonly Registration _reg;
    readonly IStreamSocketOwner _owner;

    readonly byte[] _in = new byte[HttpRequestHead.MaxSize];
    int _inStart, _inEnd;
    bool _closeAfterFlush, _lingering, _closed;

    readonly OutboundBuffer _out = new(OutboundMode.Stream, new QueuePolicy(HighWater, LowWater, MaxQueued), keepBytes: 64 * 1024, minBytes: 16 * 1024);
    bool _outputHeld;

    public StreamSocket(EventLoop loop, OwnedFd fd, IStreamSocketOwner owner)
    {
        _loop = loop;
        _fd = fd;
        _owner = owner;
        _reg = loop.Add(fd.Value, Libc.EPOLLIN, this);
    }

    /// <summary>The owner takes no input for now; it applies with the next <see cref="UpdateInterest"/>.</summary>
    public bool InputPaused { get; set; }

    /// <summary>Bytes received and not yet consumed.</summary>
    public Span<byte> Input => _in.AsSpan(_inStart, _inEnd - _inStart);

    public void Consume(int bytes) => _inStart += bytes;

    int Queued => _out.Pending;

    uint Interest => (InputPaused && !_lingering || _closed ? 0 : Libc.EPOLLIN) | (Queued > 0 ? Libc.EPOLLOUT : 0);

    public void UpdateInterest() => _loop.Modify(_reg, Interest);

    public void OnEvents(uint events)
    {
        if ((events & Libc.EPOLLOUT) != 0) Flush();
        if (_closed) return;
        if (_lingering) Discard();
        else if ((events & (Libc.EPOLLIN | Libc.EPOLLHUP | Libc.EPOLLERR)) != 0 && !InputPaused) Read();
    }

    /// <summary>Our side is shut: read and drop what the peer still sends until it closes too.</summary>
    unsafe void Discard()
    {
        byte* sink = stackalloc byte[512];
        nint n = Libc.recv(_fd.Value, sink, 512, Libc.MSG_DONTWAIT);
        if (n == 0 || n < 0 && Errno.Last is not (Errno.EAGAIN or Errno.EINTR)) _owner.OnGone();
    }

    unsafe void Read()
    {
        if (_inStart > 0 && _inEnd == _in.Length) Compact();
        if (_inEnd == _in.Length)
        {
            _owner.OnInputFull();
            return;
        }
        nint n;
        fixed (byte* p = _in) n = Libc.recv(_fd.Value, p + _inEnd, (nuint)(_in.Length - _inEnd), Libc.MSG_DONTWAIT);
        if (n < 0)
        {
            if (Errno.Last is Errno.EAGAIN or Errno.EINTR) return;
            _owner.OnGone();
            return;
        }
        if (n == 0)
        {
            _owner.OnGone();
            return;
        }
        _inEnd += (int)n;
        _owner.OnInput();
    }

    /// <summary>After the owner consumed what it could: an empty buffer starts over, a full one moves its rest to the front.</summary>
    public void TidyInput()
    {
        if (_inStart == _inEnd) _inStart = _inEnd = 0;
        else if (_inEnd == _in.Length) Compact();
    }

    void Compact()
    {
        int length = _inEnd - _inStart;
        Buffer.BlockCopy(_in, _inStart, _in, 0, length);
        _inStart = 0;
        _inEnd = length;
    }

    /// <summary>Writes a header and a payload in one gathered write; the rest is queued.</summary>
    public void Write(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload)
    {
        if (_closed) return;
        bool wasEmpty = Queued == 0;
        switch (_out.Write(_fd.Value, header, payload))
        {
            case QueueChange.Failed:
                _owner.OnGone();
                return;
            case QueueChange.Overflow:
                Log.Warn($"streaming client too slow: more than {MaxQueued} bytes pending; disconnecting it");
                _owner.OnGone();
                return;
        }
        if (wasEmpty && Queued > 0) UpdateInterest();
        if (!_outputHeld && _out.Backlogged)
        {
            _outputHeld = true;
            _owner.OnOutputHeld(true);
        }
    }

    void Flush()
    {
        if (_out.Flush(_fd.Value) == QueueChange.Failed)
        {
            _owner.OnGone();
            return;
        }
        if (Queued == 0 && _closeAfterFlush)
        {
            Linger();
            return;
        }
        UpdateInterest();
        if (_outputHeld && !_out.Backlogged)
        {
            _outputHeld = false;
            _owner.OnOutputHeld(false);
        }
    }

    public bool ClosingAfterFlush => _closeAfterFlush;

    /// <summary>
    /// Ends the connection once the queued output is sent: then our side is shut (FIN) and the
    /// socket closed when the peer closes too, so what the peer still sends cannot turn into a
    /// reset that destroys the answer it has not read yet. The owner bounds this with a timeout.
    /// </summary>
    public void CloseAfterFlush()
    {
        if (_closeAfterFlush) return;
        _closeAfterFlush = true;
        if (Queued == 0) Linger();
    }

    void Linger()
    {
        if (_lingering || _closed) return;
        _lingering = true;
        Libc.shutdown(_fd.Value, Libc.SHUT_WR);
        UpdateInterest();
    }

    /// <summary>Leaves the loop and closes the socket (once); queued output is dropped.</summary>
    public void Close()
    {
        if (_closed) return;
        _closed = true;
        _loop.Remove(_reg);
        _fd.Dispose();
        _out.Dispose();
    }
}
