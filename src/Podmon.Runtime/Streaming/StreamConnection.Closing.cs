using Podmon.Diagnostics;
using Podmon.Sys;
using static Podmon.Streaming.WebSocketFrame;

namespace Podmon.Streaming;

// The ending of a StreamConnection (its contract is in StreamConnection.cs): the WebSocket close
// handshake from our side or on a protocol violation, the bounded wait for the peer, and the teardown.
sealed partial class StreamConnection
{
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
            _socket.InputPaused = false;
            if (_phase != Phase.Gone) _socket.UpdateInterest();
            _loop.Timers.Schedule(_timer, Libc.MonotonicMs() + CloseTimeoutMs);
        }
    }

    void SendClose(ushort code, string reason)
    {
        Span<byte> payload = stackalloc byte[125];
        int n = ClosePayload(payload, code, reason);
        _socket.Write(Header(stackalloc byte[MaxHeader], OpClose, n), payload[..n]);
        _phase = Phase.Closing;
    }

    /// <summary>The socket closes once the queued output is sent and the peer closes too, within <see cref="CloseTimeoutMs"/>.</summary>
    void CloseAfterFlush()
    {
        if (_socket.ClosingAfterFlush) return;
        _loop.Timers.Schedule(_timer, Libc.MonotonicMs() + CloseTimeoutMs);
        _socket.CloseAfterFlush();
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
        _socket.Close();
        _channels?.Release();
        _server.Closed(this);
    }

    public void Dispose()
    {
        EndSession();
        Drop();
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
}
