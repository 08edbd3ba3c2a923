using System.Buffers.Binary;

namespace Podmon.Tracing.Http2;

/// <summary>
/// Outgoing frames, gathered in one buffer and sent with <see cref="Flush"/>, so a HEADERS frame
/// and the DATA frames the windows allow leave in one write. The caller splits payloads: each
/// method writes exactly one frame.
/// </summary>
public sealed class FrameWriter
{
    /// <summary>The connection preface a client sends first (RFC 9113 section 3.4).</summary>
    public static ReadOnlySpan<byte> ClientPreface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    byte[] _buf = new byte[1024];
    int _len;

    public int Pending => _len;
    public ReadOnlySpan<byte> Buffered => _buf.AsSpan(0, _len);

    public void Preface() => Append(ClientPreface);

    public void Frame(FrameType type, byte flags, int streamId, ReadOnlySpan<byte> payload)
    {
        Ensure(FrameHeader.Size + payload.Length);
        new FrameHeader(payload.Length, type, flags, streamId).Write(_buf.AsSpan(_len));
        _len += FrameHeader.Size;
        Append(payload);
    }

    public void Settings(ReadOnlySpan<(ushort Id, uint Value)> settings)
    {
        Span<byte> p = stackalloc byte[settings.Length * 6];
        for (int i = 0; i < settings.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(p[(i * 6)..], settings[i].Id);
            BinaryPrimitives.WriteUInt32BigEndian(p[(i * 6 + 2)..], settings[i].Value);
        }
        Frame(FrameType.Settings, 0, 0, p);
    }

    public void SettingsAck() => Frame(FrameType.Settings, FrameFlags.Ack, 0, default);

    public void PingAck(ReadOnlySpan<byte> opaque) => Frame(FrameType.Ping, FrameFlags.Ack, 0, opaque);

    public void WindowUpdate(int streamId, int increment)
    {
        Span<byte> p = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(p, (uint)increment);
        Frame(FrameType.WindowUpdate, 0, streamId, p);
    }

    public void RstStream(int streamId, Http2Error code)
    {
        Span<byte> p = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(p, (uint)code);
        Frame(FrameType.RstStream, 0, streamId, p);
    }

    public void GoAway(int lastStreamId, Http2Error code)
    {
        Span<byte> p = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(p, (uint)lastStreamId);
        BinaryPrimitives.WriteUInt32BigEndian(p[4..], (uint)code);
        Frame(FrameType.GoAway, 0, 0, p);
    }

    /// <summary>A header block as HEADERS plus CONTINUATION frames of at most <paramref name="maxFrame"/> bytes each.</summary>
    public void Headers(int streamId, ReadOnlySpan<byte> block, bool endStream, int maxFrame)
    {
        int first = Math.Min(block.Length, maxFrame);
        byte flags = (byte)((endStream ? FrameFlags.EndStream : 0) | (first == block.Length ? FrameFlags.EndHeaders : 0));
        Frame(FrameType.Headers, flags, streamId, block[..first]);
        for (int at = first; at < block.Length;)
        {
            int n = Math.Min(block.Length - at, maxFrame);
            Frame(FrameType.Continuation, at + n == block.Length ? FrameFlags.EndHeaders : (byte)0, streamId, block.Slice(at, n));
            at += n;
        }
    }

    public void Flush(IByteChannel channel, long deadlineMs)
    {
        if (_len == 0) return;
        channel.Write(_buf.AsSpan(0, _len), deadlineMs);
        _len = 0;
    }

    /// <summary>Shrinks a buffer grown by large frames back to its first size (when nothing is pending).</summary>
    public void Release()
    {
        if (_len == 0 && _buf.Length > 1024) _buf = new byte[1024];
    }

    public void Clear() => _len = 0;

    void Append(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buf.AsSpan(_len));
        _len += bytes.Length;
    }

    void Ensure(int more)
    {
        if (_len + more > _buf.Length) Array.Resize(ref _buf, Math.Max(_len + more, _buf.Length * 2));
    }
}
