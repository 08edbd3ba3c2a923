namespace Podmon.Tracing.Http2;

/// <summary>
/// Incoming frames from a channel, read in large chunks and handed out one at a time. A frame
/// longer than the SETTINGS_MAX_FRAME_SIZE this side announced is a FRAME_SIZE_ERROR; the end of the
/// stream, even between frames, is an error too (the exporter reads only while it expects a frame).
/// The payload is valid until the next <see cref="Next"/>.
/// </summary>
public sealed class FrameReader(IByteChannel channel, int maxFrameSize = FrameReader.DefaultMaxFrameSize)
{
    public const int DefaultMaxFrameSize = 16384;

    readonly byte[] _buf = new byte[FrameHeader.Size + maxFrameSize + 4096];
    int _start, _end;

    public FrameHeader Next(long deadlineMs, out ReadOnlySpan<byte> payload)
    {
        Fill(FrameHeader.Size, deadlineMs);
        FrameHeader h = FrameHeader.Read(_buf.AsSpan(_start));
        if (h.Length > maxFrameSize)
            throw new Http2Exception($"the peer sent a {h.Type} frame of {h.Length} bytes, over the {maxFrameSize} allowed", Http2Error.FrameSizeError);
        Fill(FrameHeader.Size + h.Length, deadlineMs);
        payload = _buf.AsSpan(_start + FrameHeader.Size, h.Length);
        _start += FrameHeader.Size + h.Length;
        return h;
    }

    /// <summary>Whether a frame (or the end of the stream) can be read now, without waiting.</summary>
    public bool HasInput => _end > _start || channel.Readable();

    /// <summary>The preface check of a server reading a client (tests' fake servers use this reader too).</summary>
    public void ExpectClientPreface(long deadlineMs)
    {
        int n = FrameWriter.ClientPreface.Length;
        Fill(n, deadlineMs);
        if (!_buf.AsSpan(_start, n).SequenceEqual(FrameWriter.ClientPreface))
            throw new Http2Exception("no HTTP/2 client preface");
        _start += n;
    }

    void Fill(int need, long deadlineMs)
    {
        if (_end - _start >= need) return;
        if (_start > 0)
        {
            _buf.AsSpan(_start, _end - _start).CopyTo(_buf);
            _end -= _start;
            _start = 0;
        }
        while (_end < need)
        {
            int n = channel.Read(_buf.AsSpan(_end), deadlineMs);
            if (n == 0) throw new Http2Exception("the peer closed the connection", Http2Error.NoError);
            _end += n;
        }
    }
}
