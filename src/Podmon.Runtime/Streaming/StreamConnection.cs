using Podmon.Diagnostics;
using Podmon.Loop;
using Podmon.Sys;
using static Podmon.Streaming.WebSocketFrame;

namespace Podmon.Streaming;

/// <summary>
/// One TCP client of the streaming server on the loop: the HTTP/1.1 request head and its answer
/// (<see cref="HttpHandshake"/>), then WebSocket frames in both directions (<see cref="FrameReader"/>,
/// <see cref="WebSocketFrame"/>) carrying the Kubernetes channels (<see cref="ChannelProtocol"/>).
/// This type is the phases (head, open, closing, gone), their one timer (the head's deadline, then
/// the close's) and the WebSocket close handshake; the bytes move through its <see cref="StreamSocket"/>,
/// where frames are unmasked in place in the input buffer and handed on piece by piece, and where
/// output past <see cref="StreamSocket.HighWater"/> makes the session hold its source back.
/// A peer that breaks the protocol gets a Close frame with the reason and loses its connection,
/// nothing else. The ending (close handshake and teardown) is in StreamConnection.Closing.cs.
/// </summary>
sealed partial class StreamConnection : IStreamSocketOwner, ITimerHandler, IChannelTransport, IDisposable
{
    const int HeadTimeoutMs = 10_000, CloseTimeoutMs = 10_000;

    enum Phase { Head, Open, Closing, Gone }

    readonly StreamingServer _server;
    readonly EventLoop _loop;
    readonly StreamSocket _socket;
    readonly LoopTimer _timer;
    Phase _phase = Phase.Head;
    IStreamSession? _session;
    bool _sessionDone;
    bool _closeReceived;
    readonly FrameReader _frames = new();
    ChannelProtocol? _channels; // from the upgrade on

    /// <summary>The negotiated subprotocol: channel version (1, 4, 5) and whether it is base64 text.</summary>
    public int Version { get; private set; } = 1;
    public bool Base64 { get; private set; }

    public StreamConnection(StreamingServer server, EventLoop loop, OwnedFd fd)
    {
        _server = server;
        _loop = loop;
        _timer = new LoopTimer(this);
        _socket = new StreamSocket(loop, fd, this);
        loop.Timers.Schedule(_timer, Libc.MonotonicMs() + HeadTimeoutMs);
    }

    public bool IsGone => _phase == Phase.Gone;

    public void OnTimer(LoopTimer timer)
    {
        if (_phase == Phase.Head) RespondError(408, "Request Timeout", "the request head did not arrive in time");
        else Drop(); // closing: the peer took neither its last output nor the close
    }

    void IStreamSocketOwner.OnInput()
    {
        if (_phase == Phase.Head) ReadHead();
        else ProcessFrames();
    }

    void IStreamSocketOwner.OnInputFull() =>
        RespondError(431, "Request Header Fields Too Large", $"the request head exceeds {HttpRequestHead.MaxSize} bytes");

    void IStreamSocketOwner.OnGone() => ClientGone();

    void IStreamSocketOwner.OnOutputHeld(bool held)
    {
        if (!_sessionDone) _session?.OnOutputHeld(held);
    }

    void ReadHead()
    {
        Span<byte> input = _socket.Input; // from the start: nothing is consumed before the head
        int end = HttpRequestHead.FindEnd(input);
        if (end < 0) return;
        HttpRequestHead head = HttpRequestHead.Parse(input[..end]);
        _socket.Consume(end);
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
        _socket.Write(response, default);
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
        _socket.Write(response, default);
        session.Start(this);
        if (_phase == Phase.Open && !_socket.Input.IsEmpty) ProcessFrames();
    }

    /// <summary>Frames from the input buffer until it runs dry or input is paused; data goes to the channels, control frames are answered here.</summary>
    void ProcessFrames()
    {
        while (!_socket.InputPaused && _phase is Phase.Open or Phase.Closing)
        {
            FrameEvent next = _frames.Next(_socket.Input, out int consumed, out Span<byte> payload);
            _socket.Consume(consumed);
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
        _socket.TidyInput();
    }

    void Control(byte opcode, ReadOnlySpan<byte> payload)
    {
        switch (opcode)
        {
            case OpPing:
                if (_phase == Phase.Open) _socket.Write(Header(stackalloc byte[MaxHeader], OpPong, payload.Length), payload);
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
            _socket.InputPaused = true;
            _socket.UpdateInterest();
        }
    }

    void IChannelTransport.Fail(ushort code, string reason) => Fail(code, reason);

    void IChannelTransport.Write(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload) => _socket.Write(header, payload);

    /// <summary>The session can take client data again.</summary>
    public void ResumeInput()
    {
        if (!_socket.InputPaused || _phase == Phase.Gone) return;
        _socket.InputPaused = false;
        ProcessFrames();
        if (_phase != Phase.Gone) _socket.UpdateInterest();
    }

    /// <summary>Data on a channel, as the negotiated protocol frames it.</summary>
    public void Send(int channel, ReadOnlySpan<byte> data)
    {
        if (_phase != Phase.Open) return;
        _channels!.Send(channel, data);
    }
}
