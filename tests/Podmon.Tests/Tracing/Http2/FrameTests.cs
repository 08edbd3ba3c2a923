using Podmon.Tracing.Http2;

namespace Podmon.Tests.Tracing.Http2;

/// <summary>Frame headers, the frame writer's splitting, and the request-side HPACK encoding read back by the HPACK decoder.</summary>
public class FrameTests
{
    [Fact]
    public void FrameHeaderRoundTripsAndIgnoresTheReservedBit()
    {
        Span<byte> b = stackalloc byte[9];
        new FrameHeader(0x123456, FrameType.Headers, 0x25, 0x7fffffff).Write(b);
        Assert.Equal("12345601257fffffff", Convert.ToHexString(b).ToLowerInvariant());
        b[5] |= 0x80;
        Assert.Equal(new FrameHeader(0x123456, FrameType.Headers, 0x25, 0x7fffffff), FrameHeader.Read(b));
    }

    static List<FrameHeader> Frames(ReadOnlySpan<byte> bytes, out List<byte[]> payloads)
    {
        var list = new List<FrameHeader>();
        payloads = [];
        while (!bytes.IsEmpty)
        {
            FrameHeader h = FrameHeader.Read(bytes);
            list.Add(h);
            payloads.Add(bytes.Slice(9, h.Length).ToArray());
            bytes = bytes[(9 + h.Length)..];
        }
        return list;
    }

    [Fact]
    public void AHeaderBlockLongerThanAFrameContinues()
    {
        var w = new FrameWriter();
        byte[] block = Enumerable.Range(0, 40_000).Select(i => (byte)i).ToArray();
        w.Headers(5, block, endStream: true, maxFrame: 16384);
        List<FrameHeader> frames = Frames(w.Buffered, out List<byte[]> payloads);
        Assert.Equal([FrameType.Headers, FrameType.Continuation, FrameType.Continuation], frames.Select(f => f.Type));
        Assert.Equal([16384, 16384, 40_000 - 32768], frames.Select(f => f.Length));
        Assert.Equal(FrameFlags.EndStream, frames[0].Flags); // END_STREAM on HEADERS, END_HEADERS on the last
        Assert.Equal(0, frames[1].Flags);
        Assert.Equal(FrameFlags.EndHeaders, frames[2].Flags);
        Assert.All(frames, f => Assert.Equal(5, f.StreamId));
        Assert.Equal(block, payloads.SelectMany(p => p));
    }

    [Fact]
    public void AShortHeaderBlockIsOneFrame()
    {
        var w = new FrameWriter();
        w.Headers(1, [1, 2, 3], endStream: false, maxFrame: 16384);
        FrameHeader h = Assert.Single(Frames(w.Buffered, out _));
        Assert.Equal(new FrameHeader(3, FrameType.Headers, FrameFlags.EndHeaders, 1), h);
    }

    [Fact]
    public void ControlFrames()
    {
        var w = new FrameWriter();
        w.Preface();
        w.Settings([(SettingId.EnablePush, 0u), (SettingId.MaxFrameSize, 16384u)]);
        w.SettingsAck();
        w.WindowUpdate(3, 1000);
        w.RstStream(3, Http2Error.Cancel);
        w.GoAway(7, Http2Error.ProtocolError);
        w.PingAck([1, 2, 3, 4, 5, 6, 7, 8]);
        Assert.True(w.Buffered.StartsWith("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8));
        List<FrameHeader> f = Frames(w.Buffered[24..], out List<byte[]> p);
        Assert.Equal(new FrameHeader(12, FrameType.Settings, 0, 0), f[0]);
        Assert.Equal("000200000000" + "000500004000", Convert.ToHexString(p[0]).ToLowerInvariant());
        Assert.Equal(new FrameHeader(0, FrameType.Settings, FrameFlags.Ack, 0), f[1]);
        Assert.Equal("000003e8", Convert.ToHexString(p[2]).ToLowerInvariant());
        Assert.Equal("00000008", Convert.ToHexString(p[3]).ToLowerInvariant());
        Assert.Equal("0000000700000001", Convert.ToHexString(p[4]).ToLowerInvariant());
        Assert.Equal(new FrameHeader(8, FrameType.Ping, FrameFlags.Ack, 0), f[5]);
    }

    [Fact]
    public void TheRequestEncodingIsLiteralWithoutIndexingAndNoHuffman()
    {
        var block = new List<byte>();
        HeaderBlockEncoder.Add(block, ":method", "POST");
        // 0x00 (literal without indexing, new name), H=0 length 7, ":method", H=0 length 4, "POST"
        Assert.Equal("00073a6d6574686f6404504f5354", Convert.ToHexString([.. block]).ToLowerInvariant());
    }

    [Theory]
    [InlineData(10, 5, "0a")]
    [InlineData(1337, 5, "1f9a0a")] // RFC 7541 C.1.2
    [InlineData(42, 8, "2a")]
    [InlineData(127, 7, "7f00")]
    public void IntegersFollowRfc7541(int value, int prefix, string hex)
    {
        var block = new List<byte>();
        HeaderBlockEncoder.AddInteger(block, 0, prefix, value);
        Assert.Equal(hex, Convert.ToHexString([.. block]).ToLowerInvariant());
    }

    [Fact]
    public void TheHpackDecoderReadsWhatTheEncoderWrote()
    {
        (string, string)[] fields =
        [
            (":method", "POST"), (":path", "/opentelemetry.proto.collector.trace.v1.TraceService/Export"),
            ("user-agent", "podmon/0.1.0 " + new string('x', 500)), ("grpc-timeout", "10000m"), ("empty", ""),
            ("utf8", "größe"),
        ];
        var sink = new H2TestPeer.ListSink();
        new HpackDecoder().Decode(H2TestPeer.Block(fields), sink);
        Assert.Equal(fields, sink.Fields);
    }
}
