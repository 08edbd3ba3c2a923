using Podmon.Diagnostics;
using Podmon.Loop;
using Podmon.Sys;
using static Podmon.Streaming.WebSocketFrame;

namespace Podmon.Streaming;

/// <summary>
/// One TCP client of the streaming server on the loop: the HTTP/1.1 request head and its answer
/// (<see cref="HttpHandshake"/>), then WebSocket frames in both directions (<see cref="FrameReader"/>,
/// <see cref="WebSocketFrame"/>) carrying the Kubernetes channels (<see cref="ChannelProtocol"/>).
/// This type owns the socket: input streams through one fixed 8 KiB buffer, where frames are
/// unmasked in place and handed on piece by piece, so a frame of any size costs no more memory.
/// Output goes out straight from the caller's span (writev of header and payload); what the
/// socket does not take is queued, and past <see cref="HighWater"/> the session holds its source
/// back. A peer that breaks the protocol gets a Close frame with the reason and loses its
/// connection, nothing else.
/// </summary>
sealed class StreamConnection : IEventHandler, ITimerHandler, IChannelTransport, IDisposable
{
    const int ReadBufferSize = HttpRequestHead.MaxSize;
    const int HighWater = 256 * 1024, LowWater = 64 * 1024, MaxQueued = 8 * 1024 * 1024;
    const int HeadTimeoutMs = 10_000, CloseTimeoutMs = 10_000;

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
    readonly FrameReader _frames = new();
    ChannelProtocol? _channels; // from the upgrade on

    readonly OutboundBuffer _out = new(OutboundMode.Stream, new QueuePolicy(HighWater, LowWater, MaxQueued), keepBytes: 64 * 1024, minBytes: 16 * 1024);
    bool _outputHeld;

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
        byte[] response = HttpHandshake.Error(status, statusText, message, extraHeader);
        Log.Debug($"streaming: {status} {message}");
        _phase = Phase.Closing;
        _sessionDone = true;
        Write(response, default);
        CloseAfterFlush();
    }

    /// <summary>Sends 101 with the accept key and the chosen subprotocol, then starts the session.</summary>
    public void Upgrade(string key, string? protocol, int version, bool base64, IStreamSession session)
    {
        byte[] response = HttpHandshake.SwitchingProtocols(key, protocol);
        _loop.Timers.Cancel(_timer);
        Version = version;
        Base64 = base64;
        _channels = new ChannelProtocol(this, base64);
        _phase = Phase.Open;
        _session = session;
        Write(response, default);
        session.Start(this);
        if (_phase == Phase.Open && _inEnd > _inStart) ProcessFrames();
    }

    /// <summary>Frames from the input buffer until it runs dry or input is paused; data goes to the channels, control frames are answered here.</summary>
    void ProcessFrames()
    {
        while (!_inputPaused && _phase is Phase.Open or Phase.Closing)
        {
            FrameEvent next = _frames.Next(_in.AsSpan(_inStart, _inEnd - _inStart), out int consumed, out Span<byte> payload);
            _inStart += consumed;
            if (next == FrameEvent.NeedMore) break;
            if (next == FrameEvent.Error)
            {
                Fail(_frames.ErrorCode, _frames.Error!);
                break;
            }
            if (next == FrameEvent.Control)
            {
                Control(_frames.Opcode, payload);
                continue;
            }
            if (_phase != Phase.Open) continue; // closing: the rest of the input is read and dropped
            if (_frames.StartsMessage) _channels!.StartMessage();
            _channels!.Payload(payload);
            if (_frames.EndsMessage && _phase == Phase.Open) _channels.EndMessage();
        }
        if (_phase == Phase.Gone) return;
        if (_inStart == _inEnd) _inStart = _inEnd = 0;
        else if (_inEnd == _in.Length) Compact();
    }

    void Control(byte opcode, ReadOnlySpan<byte> payload)
    {
        switch (opcode)
        {
            case OpPing:
                if (_phase == Phase.Open) Write(Header(stackalloc byte[MaxHeader], OpPong, payload.Length), payload);
                break;
            case OpClose:
                _closeReceived = true;
                if (payload.Length == 1)
                {
                    Fail(CloseProtocolError, "a close frame payload of one byte");
                    return;
                }
                if (_phase == Phase.Open)
                {
                    // The client ends the session: answer with its code and close once that is sent.
                    ushort code = payload.Length >= 2 ? (ushort)(payload[0] << 8 | payload[1]) : CloseNormal;
                    EndSession();
                    SendClose(code is CloseNormal or 1001 ? code : CloseNormal, "");
                }
                CloseAfterFlush();
                break;
        }
    }

    bool IChannelTransport.Streams(int channel) => _session!.Streams(channel);

    void IChannelTransport.Deliver(int channel, ReadOnlySpan<byte> data)
    {
        if (_sessionDone || _session is null) return;
        if (!_session.OnData(channel, data) && _phase == Phase.Open)
        {
            _inputPaused = true;
            _loop.Modify(_reg, Interest);
        }
    }

    void IChannelTransport.Fail(ushort code, string reason) => Fail(code, reason);

    void IChannelTransport.Write(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload) => Write(header, payload);

    /// <summary>The session can take client data again.</summary>
    public void ResumeInput()
    {
        if (!_inputPaused || _phase == Phase.Gone) return;
        _inputPaused = false;
        ProcessFrames();
        if (_phase != Phase.Gone) _loop.Modify(_reg, Interest);
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
        _channels!.Send(channel, data);
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
        int n = ClosePayload(payload, code, reason);
        Write(Header(stackalloc byte[MaxHeader], OpClose, n), payload[..n]);
        _phase = Phase.Closing;
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
        _channels?.Release();
        _server.Closed(this);
    }

    public void Dispose()
    {
        EndSession();
        Drop();
    }
}
