using System.Buffers;
using System.Buffers.Text;
using System.Text;
using Podmon.Diagnostics;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Streaming;

/// <summary>
/// One TCP client of the streaming server on the loop: the HTTP/1.1 request head, then RFC 6455
/// frames in both directions with the Kubernetes channel byte (binary, or the base64 text
/// flavour). Input streams through one fixed 8 KiB buffer: data frames are unmasked in place and
/// handed to the session piece by piece, so a frame of any size costs no more memory; only small
/// control messages and base64 messages are gathered whole (capped). Output goes out straight from
/// the caller's span (writev of header and payload); what the socket does not take is queued, and
/// past <see cref="HighWater"/> the session holds its source back. A peer that breaks the
/// protocol gets a Close frame with the reason and loses its connection, nothing else.
/// </summary>
sealed partial class StreamConnection : IEventHandler, ITimerHandler, IDisposable
{
    const int ReadBufferSize = HttpRequestHead.MaxSize;
    /// <summary>A frame announcing more than this is refused (1009) before its payload is read.</summary>
    public const long MaxFramePayload = 16 << 20;
    /// <summary>Largest message gathered whole: control-channel messages and base64 messages.</summary>
    const int MaxWholeMessage = 64 * 1024;
    const int HighWater = 256 * 1024, LowWater = 64 * 1024, MaxQueued = 8 * 1024 * 1024;
    const int HeadTimeoutMs = 10_000, CloseTimeoutMs = 10_000;

    const byte OpContinuation = 0, OpText = 1, OpBinary = 2, OpClose = 8, OpPing = 9, OpPong = 10;
    public const ushort CloseNormal = 1000, CloseProtocolError = 1002, CloseInvalidData = 1007,
        CloseTooBig = 1009, CloseInternalError = 1011;

    enum Phase { Head, Open, Closing, Gone }

    readonly StreamingServer _server;
    readonly EventLoop _loop;
    readonly OwnedFd _fd;
    readonly Registration _reg;
    readonly LoopTimer _timer;
    Phase _phase = Phase.Head;
    IStreamSession? _session;
    bool _sessionDone;

    readonly byte[] _in = new byte[ReadBufferSize];
    int _inStart, _inEnd;
    bool _inputPaused, _closeReceived, _closeAfterFlush, _lingering;

    readonly OutboundBuffer _out = new(OutboundMode.Stream, new QueuePolicy(HighWater, LowWater, MaxQueued), keepBytes: 64 * 1024, minBytes: 16 * 1024);
    bool _outputHeld;

    // The frame being read.
    bool _inFrame, _frameFin;
    byte _frameOpcode;
    long _frameLeft;
    uint _mask;
    int _maskAt;
    // The message being read (a data frame and its continuations).
    byte _messageOpcode;
    int _messageChannel = -1;
    bool _messageWhole;
    byte[]? _whole;
    int _wholeLength;

    /// <summary>The negotiated subprotocol: channel version (1, 4, 5) and whether it is base64 text.</summary>
    public int Version { get; private set; } = 1;
    public bool Base64 { get; private set; }

    public StreamConnection(StreamingServer server, EventLoop loop, OwnedFd fd)
    {
        _server = server;
        _loop = loop;
        _fd = fd;
        _timer = new LoopTimer(this);
        _reg = loop.Add(fd.Value, Libc.EPOLLIN, this);
        loop.Timers.Schedule(_timer, Libc.MonotonicMs() + HeadTimeoutMs);
    }

    public bool IsGone => _phase == Phase.Gone;
    int Queued => _out.Pending;

    uint Interest => (_inputPaused && !_lingering || _phase == Phase.Gone ? 0 : Libc.EPOLLIN) | (Queued > 0 ? Libc.EPOLLOUT : 0);

    public void OnEvents(uint events)
    {
        if ((events & Libc.EPOLLOUT) != 0) Flush();
        if (_phase == Phase.Gone) return;
        if (_lingering) Discard();
        else if ((events & (Libc.EPOLLIN | Libc.EPOLLHUP | Libc.EPOLLERR)) != 0 && !_inputPaused) ReadInput();
    }

    /// <summary>Our side is shut: read and drop what the peer still sends until it closes too.</summary>
    unsafe void Discard()
    {
        byte* sink = stackalloc byte[512];
        nint n = Libc.recv(_fd.Value, sink, 512, Libc.MSG_DONTWAIT);
        if (n == 0 || n < 0 && Errno.Last is not (Errno.EAGAIN or Errno.EINTR)) Drop();
    }

    public void OnTimer(LoopTimer timer)
    {
        if (_phase == Phase.Head) RespondError(408, "Request Timeout", "the request head did not arrive in time");
        else Drop(); // closing: the peer took neither its last output nor the close
    }

    unsafe void ReadInput()
    {
        if (_inStart > 0 && _inEnd == _in.Length) Compact();
        if (_inEnd == _in.Length)
        {
            // Only a head can fill the buffer without being consumed.
            RespondError(431, "Request Header Fields Too Large", $"the request head exceeds {HttpRequestHead.MaxSize} bytes");
            return;
        }
        nint n;
        fixed (byte* p = _in) n = Libc.recv(_fd.Value, p + _inEnd, (nuint)(_in.Length - _inEnd), Libc.MSG_DONTWAIT);
        if (n < 0)
        {
            if (Errno.Last is Errno.EAGAIN or Errno.EINTR) return;
            ClientGone();
            return;
        }
        if (n == 0)
        {
            ClientGone();
            return;
        }
        _inEnd += (int)n;
        if (_phase == Phase.Head) ReadHead();
        else ProcessFrames();
    }

    void Compact()
    {
        int length = _inEnd - _inStart;
        Buffer.BlockCopy(_in, _inStart, _in, 0, length);
        _inStart = 0;
        _inEnd = length;
    }

    void ReadHead()
    {
        int end = HttpRequestHead.FindEnd(_in.AsSpan(0, _inEnd));
        if (end < 0) return;
        HttpRequestHead head = HttpRequestHead.Parse(_in.AsSpan(0, end));
        _inStart = end;
        if (head.ErrorStatus != 0)
        {
            RespondError(head.ErrorStatus, "Bad Request", head.Error!);
            return;
        }
        _server.Route(this, head);
    }

    /// <summary>Answers with an HTTP error and closes once it is sent.</summary>
    public void RespondError(int status, string statusText, string message, string? extraHeader = null)
    {
        if (_phase != Phase.Head) return;
        string body = message + "\n";
        string response = $"HTTP/1.1 {status} {statusText}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n" +
                          (extraHeader is null ? "" : extraHeader + "\r\n") + "Connection: close\r\n\r\n" + body;
        Log.Debug($"streaming: {status} {message}");
        _phase = Phase.Closing;
        _sessionDone = true;
        Write(Encoding.UTF8.GetBytes(response), default);
        CloseAfterFlush();
    }

    /// <summary>Sends 101 with the accept key and the chosen subprotocol, then starts the session.</summary>
    public void Upgrade(string key, string? protocol, int version, bool base64, IStreamSession session)
    {
        Span<byte> hash = stackalloc byte[Sha1.HashSize];
        Sha1.Hash(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"), hash);
        string response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
                          Convert.ToBase64String(hash) + "\r\n" + (protocol is null ? "" : $"Sec-WebSocket-Protocol: {protocol}\r\n") + "\r\n";
        _loop.Timers.Cancel(_timer);
        Version = version;
        Base64 = base64;
        _phase = Phase.Open;
        _session = session;
        Write(Encoding.ASCII.GetBytes(response), default);
        session.Start(this);
        if (_phase == Phase.Open && _inEnd > _inStart) ProcessFrames();
    }

    /// <summary>A protocol violation: Close with the reason, the session ends, the socket closes.</summary>
    void Fail(ushort code, string reason)
    {
        if (_phase == Phase.Gone) return;
        Log.Debug($"streaming client dropped: {reason}");
        if (_phase == Phase.Open)
        {
            EndSession();
            SendClose(code, reason);
        }
        CloseAfterFlush();
    }

    void EndSession()
    {
        if (_sessionDone) return;
        _sessionDone = true;
        _session?.OnClientGone();
    }

    // ---- output ----

    /// <summary>Data on a channel, as the negotiated protocol frames it.</summary>
    public void Send(int channel, ReadOnlySpan<byte> data)
    {
        if (_phase != Phase.Open) return;
        if (!Base64)
        {
            Span<byte> header = stackalloc byte[11];
            Span<byte> h = FrameHeader(header, OpBinary, data.Length + 1);
            header[h.Length] = (byte)channel;
            Write(header[..(h.Length + 1)], data);
            return;
        }
        byte[] text = ArrayPool<byte>.Shared.Rent(1 + System.Buffers.Text.Base64.GetMaxEncodedToUtf8Length(data.Length));
        text[0] = (byte)('0' + channel);
        System.Buffers.Text.Base64.EncodeToUtf8(data, text.AsSpan(1), out _, out int written);
        Write(FrameHeader(stackalloc byte[10], OpText, written + 1), text.AsSpan(0, written + 1));
        ArrayPool<byte>.Shared.Return(text);
    }

    /// <summary>The session is over: a Close frame (RFC 6455 §7), then the socket closes once the client answers or leaves.</summary>
    public void Close(ushort code, string reason)
    {
        _sessionDone = true;
        if (_phase != Phase.Open) return;
        SendClose(code, reason);
        if (_closeReceived) CloseAfterFlush();
        else
        {
            // Read on (even if the session had paused input) to see the client's Close; data is dropped now.
            _inputPaused = false;
            if (_phase != Phase.Gone) _loop.Modify(_reg, Interest);
            _loop.Timers.Schedule(_timer, Libc.MonotonicMs() + CloseTimeoutMs);
        }
    }

    void SendClose(ushort code, string reason)
    {
        Span<byte> payload = stackalloc byte[125];
        payload[0] = (byte)(code >> 8);
        payload[1] = (byte)code;
        int n = 2 + Encoding.UTF8.GetBytes(reason.Length > 40 ? reason[..40] : reason, payload[2..]);
        Write(FrameHeader(stackalloc byte[10], OpClose, n), payload[..n]);
        _phase = Phase.Closing;
    }

    static Span<byte> FrameHeader(Span<byte> buf, byte opcode, int length)
    {
        buf[0] = (byte)(0x80 | opcode);
        if (length < 126)
        {
            buf[1] = (byte)length;
            return buf[..2];
        }
        if (length <= ushort.MaxValue)
        {
            buf[1] = 126;
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(buf[2..], (ushort)length);
            return buf[..4];
        }
        buf[1] = 127;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(buf[2..], (ulong)length);
        return buf[..10];
    }

    /// <summary>Writes a header and a payload in one gathered write; the rest is queued.</summary>
    void Write(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload)
    {
        if (_phase == Phase.Gone) return;
        bool wasEmpty = Queued == 0;
        switch (_out.Write(_fd.Value, header, payload))
        {
            case QueueChange.Failed:
                ClientGone();
                return;
            case QueueChange.Overflow:
                Log.Warn($"streaming client too slow: more than {MaxQueued} bytes pending; disconnecting it");
                ClientGone();
                return;
        }
        if (wasEmpty && Queued > 0) _loop.Modify(_reg, Interest);
        if (!_outputHeld && _out.Backlogged)
        {
            _outputHeld = true;
            if (!_sessionDone) _session?.OnOutputHeld(true);
        }
    }

    void Flush()
    {
        if (_out.Flush(_fd.Value) == QueueChange.Failed)
        {
            ClientGone();
            return;
        }
        if (Queued == 0 && _closeAfterFlush)
        {
            Linger();
            return;
        }
        _loop.Modify(_reg, Interest);
        if (_outputHeld && !_out.Backlogged)
        {
            _outputHeld = false;
            if (!_sessionDone) _session?.OnOutputHeld(false);
        }
    }

    /// <summary>
    /// Ends the connection once the queued output is sent: then our side is shut (FIN) and the
    /// socket closed when the peer closes too, so what the peer still sends cannot turn into a
    /// reset that destroys the answer it has not read yet. Bounded by <see cref="CloseTimeoutMs"/>.
    /// </summary>
    void CloseAfterFlush()
    {
        if (_closeAfterFlush) return;
        _closeAfterFlush = true;
        _loop.Timers.Schedule(_timer, Libc.MonotonicMs() + CloseTimeoutMs);
        if (Queued == 0) Linger();
    }

    void Linger()
    {
        if (_lingering || _phase == Phase.Gone) return;
        _lingering = true;
        Libc.shutdown(_fd.Value, Libc.SHUT_WR);
        _loop.Modify(_reg, Interest);
    }

    /// <summary>EOF, reset, or a write error: the client is gone.</summary>
    void ClientGone()
    {
        EndSession();
        Drop();
    }

    void Drop()
    {
        if (_phase == Phase.Gone) return;
        _phase = Phase.Gone;
        _sessionDone = true;
        _loop.Timers.Cancel(_timer);
        _loop.Remove(_reg);
        _fd.Dispose();
        _out.Dispose();
        _whole = null;
        _server.Closed(this);
    }

    public void Dispose()
    {
        EndSession();
        Drop();
    }
}
