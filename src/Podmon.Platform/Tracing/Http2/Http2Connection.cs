using Podmon.Sys;

namespace Podmon.Tracing.Http2;

/// <summary>
/// A minimal HTTP/2 client connection (RFC 9113) over cleartext with prior knowledge (h2c): the
/// preface and SETTINGS exchange, one request at a time on new odd stream ids, DATA split at the
/// peer's SETTINGS_MAX_FRAME_SIZE and held to the connection and stream send windows, PING and
/// SETTINGS acknowledged, received DATA given back with WINDOW_UPDATE, GOAWAY and RST_STREAM turned
/// into errors. Response header blocks (HEADERS + CONTINUATION) go through the HPACK decoder; the
/// request side is <see cref="HeaderBlockEncoder"/>'s. One owner thread; after any error other than
/// a stream reset the connection is unusable (<see cref="IsUsable"/>) and the owner opens a new one.
/// </summary>
public sealed partial class Http2Connection : IDisposable
{
    const int DefaultWindow = 65535;
    const int MaxWindow = int.MaxValue;
    const int MaxHeaderBlock = 64 * 1024;
    const int MaxStreamId = int.MaxValue;

    readonly IByteChannel _channel;
    readonly FrameReader _reader;
    readonly FrameWriter _writer = new();
    readonly HpackDecoder _decoder = new(4096);
    int _peerMaxFrame = FrameReader.DefaultMaxFrameSize;
    int _peerInitialWindow = DefaultWindow;
    long _sendWindow = DefaultWindow;
    int _receivedUnacknowledged;
    int _nextStreamId = 1;
    int _goAwayLastStream = MaxStreamId;
    bool _peerSettingsSeen, _broken;
    ActiveStream? _stream;

    Http2Connection(IByteChannel channel)
    {
        _channel = channel;
        _reader = new FrameReader(channel);
    }

    /// <summary>The peer's SETTINGS_MAX_FRAME_SIZE (16384 until it says otherwise).</summary>
    public int PeerMaxFrameSize => _peerMaxFrame;

    /// <summary>The next request may go on this connection (no error, no GOAWAY, stream ids left).</summary>
    public bool IsUsable => !_broken && _goAwayLastStream == MaxStreamId && _nextStreamId < MaxStreamId - 2;

    /// <summary>Why the peer is going away, once it sent GOAWAY.</summary>
    public string? GoAwayReason { get; private set; }

    /// <summary>
    /// Sends the preface and this side's SETTINGS (no push), then reads until the peer's SETTINGS
    /// (which must come first) and acknowledges them. Takes ownership of <paramref name="channel"/>.
    /// </summary>
    public static Http2Connection Open(IByteChannel channel, long deadlineMs)
    {
        var c = new Http2Connection(channel);
        try
        {
            c._writer.Preface();
            c._writer.Settings([(SettingId.EnablePush, 0u)]);
            c._writer.Flush(channel, deadlineMs);
            while (!c._peerSettingsSeen) c.ReadFrame(deadlineMs);
            c._writer.Flush(channel, deadlineMs);
            return c;
        }
        catch
        {
            c.Dispose();
            throw;
        }
    }

    /// <summary>
    /// One request: <paramref name="headerBlock"/> (already HPACK-encoded) and <paramref name="body"/>
    /// on a new stream, then reads until the response is complete. Every response header block
    /// (headers, trailers) is decoded into <paramref name="sink"/>; returns the response body.
    /// </summary>
    public byte[] Exchange(ReadOnlySpan<byte> headerBlock, ReadOnlySpan<byte> body, IHeaderSink sink, long deadlineMs)
    {
        if (!IsUsable) throw new Http2Exception(GoAwayReason ?? "the connection cannot take another request", Http2Error.NoError);
        var s = _stream = new ActiveStream(_nextStreamId, _peerInitialWindow, sink);
        _nextStreamId += 2;
        try
        {
            _writer.Headers(s.Id, headerBlock, endStream: body.IsEmpty, _peerMaxFrame);
            bool endSent = body.IsEmpty;
            for (int sent = 0; !endSent && !s.Finished;)
            {
                int n = (int)Math.Min(Math.Min(Math.Min(_sendWindow, s.SendWindow), _peerMaxFrame), body.Length - sent);
                if (n <= 0)
                {
                    _writer.Flush(_channel, deadlineMs);
                    ReadFrame(deadlineMs); // until a WINDOW_UPDATE (or SETTINGS) opens a window
                    continue;
                }
                endSent = sent + n == body.Length;
                _writer.Frame(FrameType.Data, endSent ? FrameFlags.EndStream : (byte)0, s.Id, body.Slice(sent, n));
                sent += n;
                _sendWindow -= n;
                s.SendWindow -= n;
                if (_writer.Pending >= FrameReader.DefaultMaxFrameSize) _writer.Flush(_channel, deadlineMs); // the copy stays small
            }
            _writer.Flush(_channel, deadlineMs);
            while (!s.Finished) ReadFrame(deadlineMs);
            if (s.ResetCode is { } code && !(code == Http2Error.NoError && s.RemoteClosed))
                throw new Http2Exception($"the peer reset stream {s.Id} ({code})", code,
                    retryable: code is Http2Error.RefusedStream or Http2Error.Cancel or Http2Error.InternalError, streamOnly: true);
            if (!endSent && s.ResetCode is null)
            {
                _writer.RstStream(s.Id, Http2Error.Cancel); // answered before we finished: abandon our half
                _writer.Flush(_channel, deadlineMs);
            }
            return s.Body.ToArray();
        }
        catch (Exception e) when (e is not Http2Exception { StreamOnly: true })
        {
            _broken = true;
            throw;
        }
        finally
        {
            _stream = null;
        }
    }

    /// <summary>
    /// Acts on what the peer sent while the connection was idle (a GOAWAY, a PING, SETTINGS, or
    /// the end of the stream), without waiting, so the next request does not start on a connection
    /// the peer already gave up. Errors leave the connection unusable; they are not thrown.
    /// </summary>
    public void ProcessPending(long deadlineMs)
    {
        try
        {
            while (!_broken && _reader.HasInput) ReadFrame(deadlineMs);
        }
        catch (Exception e) when (e is Http2Exception or IOException or SyscallException or TimeoutException or HpackException)
        {
            _broken = true;
        }
    }

    /// <summary>Between requests: buffers grown by a large one shrink back.</summary>
    public void ReleaseBuffers()
    {
        _writer.Release();
        if (_headerBlock.Length > 1024) _headerBlock = new byte[1024];
    }

    /// <summary>Closes the socket; when <paramref name="graceful"/>, first says GOAWAY (NO_ERROR) if the peer will still listen.</summary>
    public void Close(bool graceful, long deadlineMs)
    {
        if (graceful && !_broken)
            try
            {
                _writer.Clear();
                _writer.GoAway(0, Http2Error.NoError);
                _writer.Flush(_channel, deadlineMs);
            }
            catch (Exception e) when (e is IOException or SyscallException or TimeoutException) { }
        _broken = true;
        _channel.Dispose();
    }

    public void Dispose() => Close(graceful: false, 0);

    /// <summary>A connection error of ours: GOAWAY with <paramref name="code"/> (best effort), then the exception to throw.</summary>
    Http2Exception Fail(Http2Error code, string message)
    {
        _broken = true;
        try
        {
            _writer.Clear();
            _writer.GoAway(0, code);
            _writer.Flush(_channel, Libc.MonotonicMs() + 100);
        }
        catch (Exception e) when (e is IOException or SyscallException or TimeoutException) { }
        return new Http2Exception(message, code);
    }

    /// <summary>The one request in flight: its send window, what came back, how it ended.</summary>
    sealed class ActiveStream(int id, int initialWindow, IHeaderSink sink)
    {
        public readonly int Id = id;
        public readonly IHeaderSink Sink = sink;
        public readonly List<byte> Body = [];
        public long SendWindow = initialWindow;
        public bool RemoteClosed;
        public Http2Error? ResetCode;
        public bool Finished => RemoteClosed || ResetCode is not null;
    }
}
