using System.Buffers.Binary;
using System.Text;

namespace Podmon.Tracing.Http2;

/// <summary>The receiving half: one frame read and acted on per <see cref="ReadFrame"/>.</summary>
public sealed partial class Http2Connection
{
    byte[] _headerBlock = new byte[1024];
    int _headerLength, _headerStreamId;
    bool _inHeaderBlock, _headerEndStream;

    void ReadFrame(long deadlineMs)
    {
        FrameHeader h = _reader.Next(deadlineMs, out ReadOnlySpan<byte> p);
        if (!_peerSettingsSeen && h.Type != FrameType.Settings)
            throw Fail(Http2Error.ProtocolError, $"the peer's first frame was {h.Type}, not SETTINGS: not an HTTP/2 server");
        if (_inHeaderBlock && (h.Type != FrameType.Continuation || h.StreamId != _headerStreamId))
            throw Fail(Http2Error.ProtocolError, $"{h.Type} on stream {h.StreamId} inside a header block of stream {_headerStreamId}");
        switch (h.Type)
        {
            case FrameType.Data: OnData(h, p); break;
            case FrameType.Headers: OnHeaders(h, p); break;
            case FrameType.Continuation: OnContinuation(h, p); break;
            case FrameType.RstStream: OnRstStream(h, p); break;
            case FrameType.Settings: OnSettings(h, p); break;
            case FrameType.Ping: OnPing(h, p); break;
            case FrameType.GoAway: OnGoAway(p); break;
            case FrameType.WindowUpdate: OnWindowUpdate(h, p); break;
            case FrameType.PushPromise: throw Fail(Http2Error.ProtocolError, "PUSH_PROMISE although push is disabled");
            default: break; // PRIORITY, and unknown types, which the RFC says to ignore
        }
        if (_writer.Pending > 0) _writer.Flush(_channel, deadlineMs); // acks and window updates go out at once
    }

    void OnData(FrameHeader h, ReadOnlySpan<byte> p)
    {
        if (h.StreamId == 0) throw Fail(Http2Error.ProtocolError, "DATA on stream 0");
        ReadOnlySpan<byte> data = Unpad(h, p);
        // The whole payload, padding included, counts against the connection's receive window.
        _receivedUnacknowledged += h.Length;
        if (_receivedUnacknowledged >= DefaultWindow / 2)
        {
            _writer.WindowUpdate(0, _receivedUnacknowledged);
            _receivedUnacknowledged = 0;
        }
        // The stream's window is never given back: a response longer than 64 KiB (an OTLP
        // response is a few bytes) stalls and times out rather than filling memory.
        if (_stream is { } s && s.Id == h.StreamId && !s.RemoteClosed)
        {
            s.Body.AddRange(data);
            if (h.Has(FrameFlags.EndStream)) s.RemoteClosed = true;
        }
    }

    void OnHeaders(FrameHeader h, ReadOnlySpan<byte> p)
    {
        if (h.StreamId == 0) throw Fail(Http2Error.ProtocolError, "HEADERS on stream 0");
        ReadOnlySpan<byte> fragment = Unpad(h, p);
        if (h.Has(FrameFlags.Priority))
        {
            if (fragment.Length < 5) throw Fail(Http2Error.FrameSizeError, "HEADERS too short for its priority fields");
            fragment = fragment[5..];
        }
        _headerLength = 0;
        _headerStreamId = h.StreamId;
        _headerEndStream = h.Has(FrameFlags.EndStream);
        AppendHeaderFragment(fragment, h.Has(FrameFlags.EndHeaders));
    }

    void OnContinuation(FrameHeader h, ReadOnlySpan<byte> p)
    {
        if (!_inHeaderBlock) throw Fail(Http2Error.ProtocolError, "CONTINUATION without HEADERS");
        AppendHeaderFragment(p, h.Has(FrameFlags.EndHeaders));
    }

    void AppendHeaderFragment(ReadOnlySpan<byte> fragment, bool end)
    {
        if (_headerLength + fragment.Length > MaxHeaderBlock)
            throw Fail(Http2Error.EnhanceYourCalm, $"a header block over {MaxHeaderBlock} bytes");
        if (_headerLength + fragment.Length > _headerBlock.Length)
            Array.Resize(ref _headerBlock, Math.Max(_headerLength + fragment.Length, _headerBlock.Length * 2));
        fragment.CopyTo(_headerBlock.AsSpan(_headerLength));
        _headerLength += fragment.Length;
        _inHeaderBlock = !end;
        if (!end) return;
        // Every block is decoded, whichever stream it is for: the dynamic table is the connection's.
        ActiveStream? s = _stream is { } active && active.Id == _headerStreamId && !active.RemoteClosed ? active : null;
        try
        {
            _decoder.Decode(_headerBlock.AsSpan(0, _headerLength), s?.Sink ?? DiscardingSink.Instance);
        }
        catch (HpackException e)
        {
            throw Fail(Http2Error.CompressionError, $"bad header block from the peer: {e.Message}");
        }
        if (s is not null && _headerEndStream) s.RemoteClosed = true;
    }

    void OnRstStream(FrameHeader h, ReadOnlySpan<byte> p)
    {
        if (h.Length != 4) throw Fail(Http2Error.FrameSizeError, "RST_STREAM of a length other than 4");
        if (h.StreamId == 0) throw Fail(Http2Error.ProtocolError, "RST_STREAM on stream 0");
        if (_stream is { } s && s.Id == h.StreamId) s.ResetCode = (Http2Error)BinaryPrimitives.ReadUInt32BigEndian(p);
    }

    void OnSettings(FrameHeader h, ReadOnlySpan<byte> p)
    {
        if (h.StreamId != 0) throw Fail(Http2Error.ProtocolError, "SETTINGS on a stream");
        if (h.Has(FrameFlags.Ack))
        {
            if (h.Length != 0) throw Fail(Http2Error.FrameSizeError, "SETTINGS ack with a payload");
            return;
        }
        if (h.Length % 6 != 0) throw Fail(Http2Error.FrameSizeError, "SETTINGS length not a multiple of 6");
        for (int i = 0; i < p.Length; i += 6)
        {
            ushort id = BinaryPrimitives.ReadUInt16BigEndian(p[i..]);
            uint value = BinaryPrimitives.ReadUInt32BigEndian(p[(i + 2)..]);
            if (id == SettingId.InitialWindowSize)
            {
                if (value > MaxWindow) throw Fail(Http2Error.FlowControlError, $"SETTINGS_INITIAL_WINDOW_SIZE {value}");
                long delta = (long)value - _peerInitialWindow;
                _peerInitialWindow = (int)value;
                if (_stream is { } s && (s.SendWindow += delta) > MaxWindow)
                    throw Fail(Http2Error.FlowControlError, "a stream window over 2^31-1");
            }
            else if (id == SettingId.MaxFrameSize)
            {
                if (value is < 16384 or > 16777215) throw Fail(Http2Error.ProtocolError, $"SETTINGS_MAX_FRAME_SIZE {value}");
                _peerMaxFrame = (int)value;
            }
        }
        _peerSettingsSeen = true;
        _writer.SettingsAck();
    }

    void OnPing(FrameHeader h, ReadOnlySpan<byte> p)
    {
        if (h.Length != 8) throw Fail(Http2Error.FrameSizeError, "PING of a length other than 8");
        if (h.StreamId != 0) throw Fail(Http2Error.ProtocolError, "PING on a stream");
        if (!h.Has(FrameFlags.Ack)) _writer.PingAck(p);
    }

    void OnGoAway(ReadOnlySpan<byte> p)
    {
        if (p.Length < 8) throw Fail(Http2Error.FrameSizeError, "GOAWAY shorter than 8 bytes");
        int last = (int)(BinaryPrimitives.ReadUInt32BigEndian(p) & 0x7fffffff);
        var code = (Http2Error)BinaryPrimitives.ReadUInt32BigEndian(p[4..]);
        ReadOnlySpan<byte> debug = p[8..];
        string detail = debug.IsEmpty ? "" : $": {Encoding.UTF8.GetString(debug[..Math.Min(debug.Length, 200)])}";
        _goAwayLastStream = Math.Min(_goAwayLastStream, last);
        GoAwayReason = $"the peer sent GOAWAY ({code}, last stream {last}){detail}";
        if (_stream is { } s && s.Id > last)
            throw new Http2Exception($"{GoAwayReason} before processing stream {s.Id}", code, retryable: true);
    }

    void OnWindowUpdate(FrameHeader h, ReadOnlySpan<byte> p)
    {
        if (h.Length != 4) throw Fail(Http2Error.FrameSizeError, "WINDOW_UPDATE of a length other than 4");
        int increment = (int)(BinaryPrimitives.ReadUInt32BigEndian(p) & 0x7fffffff);
        if (h.StreamId == 0)
        {
            if (increment == 0) throw Fail(Http2Error.ProtocolError, "WINDOW_UPDATE of 0 on the connection");
            if ((_sendWindow += increment) > MaxWindow) throw Fail(Http2Error.FlowControlError, "a connection window over 2^31-1");
        }
        else if (_stream is { } s && s.Id == h.StreamId && !s.Finished)
        {
            if (increment == 0 || s.SendWindow + increment > MaxWindow)
            {
                Http2Error code = increment == 0 ? Http2Error.ProtocolError : Http2Error.FlowControlError;
                _writer.RstStream(s.Id, code);
                s.ResetCode = code;
                return;
            }
            s.SendWindow += increment;
        }
    }

    ReadOnlySpan<byte> Unpad(FrameHeader h, ReadOnlySpan<byte> p)
    {
        if (!h.Has(FrameFlags.Padded)) return p;
        if (p.IsEmpty || p[0] >= p.Length) throw Fail(Http2Error.ProtocolError, $"{h.Type} padding longer than the frame");
        return p[1..^p[0]];
    }

    sealed class DiscardingSink : IHeaderSink
    {
        public static readonly DiscardingSink Instance = new();
        public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) { }
    }
}
