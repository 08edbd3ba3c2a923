using System.Buffers.Binary;
using Podmon.Tracing.Http2;

namespace Podmon.Tests.Tracing.Http2;

/// <summary>The HTTP/2 client against a scripted peer: handshake, streams, splitting, flow control, control frames, errors.</summary>
public class Http2ConnectionTests
{
    static readonly byte[] Request = H2TestPeer.Block((":method", "POST"), (":path", "/x"));

    static Task<Http2Connection> Open(H2TestPeer peer) => Task.Run(() => Http2Connection.Open(peer.Client, H2TestPeer.Deadline));

    static Task<(byte[] Body, H2TestPeer.ListSink Sink)> Exchange(Http2Connection c, byte[] body, long? deadline = null) => Task.Run(() =>
    {
        var sink = new H2TestPeer.ListSink();
        return (c.Exchange(Request, body, sink, deadline ?? H2TestPeer.Deadline), sink);
    });

    [Fact]
    public async Task HandshakeThenRequestsOnOddStreamsOfOneConnection()
    {
        using var peer = new H2TestPeer();
        Task<Http2Connection> opening = Open(peer);
        Dictionary<ushort, uint> clientSettings = peer.Handshake();
        Assert.Equal(0u, clientSettings[SettingId.EnablePush]);
        using Http2Connection c = await opening;
        Assert.Equal(FrameType.Settings, peer.Read().H.Type); // the ack of ours

        for (int i = 0; i < 3; i++)
        {
            var call = Exchange(c, [1, 2, 3]);
            (int stream, List<(string, string)> headers, byte[] body, _) = peer.ReadRequest();
            Assert.Equal(1 + 2 * i, stream);
            Assert.Equal([(":method", "POST"), (":path", "/x")], headers);
            Assert.Equal([1, 2, 3], body);
            peer.Respond(stream, [9, 8], status: 0);
            (byte[] answer, H2TestPeer.ListSink sink) = await call;
            Assert.Equal([0, 0, 0, 0, 2, 9, 8], answer);
            Assert.Equal([(":status", "200"), ("content-type", "application/grpc"), ("grpc-status", "0")], sink.Fields);
            Assert.True(c.IsUsable);
        }
    }

    [Fact]
    public async Task DataIsSplitAtThePeersMaxFrameSize()
    {
        using var peer = new H2TestPeer();
        Task<Http2Connection> opening = Open(peer);
        peer.Handshake((SettingId.MaxFrameSize, 20000), (SettingId.InitialWindowSize, 1 << 20));
        peer.Out.WindowUpdate(0, 1 << 20);
        peer.Send();
        using Http2Connection c = await opening;
        byte[] body = Enumerable.Range(0, 50_000).Select(i => (byte)i).ToArray();
        var call = Exchange(c, body);
        (int stream, _, byte[] got, List<int> sizes) = peer.ReadRequest();
        Assert.Equal([20000, 20000, 10000], sizes);
        Assert.Equal(body, got);
        peer.Respond(stream, []);
        await call;
    }

    [Fact]
    public async Task TheStreamWindowHoldsDataBackUntilAWindowUpdate()
    {
        using var peer = new H2TestPeer();
        Task<Http2Connection> opening = Open(peer);
        peer.Handshake((SettingId.InitialWindowSize, 1000));
        using Http2Connection c = await opening;
        var call = Exchange(c, new byte[2500]);
        Assert.Equal(FrameType.Headers, peer.ReadSkippingAcks().H.Type);
        Assert.Equal(1000, peer.Read(FrameType.Data).H.Length);
        // The window is spent: the client must answer this PING before it sends more DATA.
        peer.Out.Frame(FrameType.Ping, 0, 0, [1, 2, 3, 4, 5, 6, 7, 8]);
        peer.Send();
        (FrameHeader ack, byte[] opaque) = peer.Read(FrameType.Ping);
        Assert.True(ack.Has(FrameFlags.Ack));
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], opaque);
        peer.Out.WindowUpdate(1, 1000);
        peer.Send();
        Assert.Equal(1000, peer.Read(FrameType.Data).H.Length);
        peer.Out.Settings([(SettingId.InitialWindowSize, 1500)]); // +500 for the open stream too
        peer.Send();
        (FrameHeader settingsAck, _) = peer.Read(FrameType.Settings);
        Assert.True(settingsAck.Has(FrameFlags.Ack));
        (FrameHeader last, _) = peer.Read(FrameType.Data);
        Assert.Equal(500, last.Length);
        Assert.True(last.Has(FrameFlags.EndStream));
        peer.Respond(1, []);
        await call;
    }

    [Fact]
    public async Task TheConnectionWindowHoldsDataBackToo()
    {
        using var peer = new H2TestPeer();
        Task<Http2Connection> opening = Open(peer);
        peer.Handshake((SettingId.InitialWindowSize, 1 << 20));
        using Http2Connection c = await opening;
        var call = Exchange(c, new byte[70_000]);
        peer.ReadSkippingAcks();
        int sent = 0;
        while (sent < 65535) sent += peer.Read(FrameType.Data).H.Length;
        Assert.Equal(65535, sent);
        peer.Out.Frame(FrameType.Ping, 0, 0, new byte[8]);
        peer.Send();
        Assert.Equal(FrameType.Ping, peer.Read().H.Type);
        peer.Out.WindowUpdate(0, 10_000);
        peer.Send();
        (FrameHeader h, _) = peer.Read(FrameType.Data);
        Assert.Equal(70_000 - 65535, h.Length);
        Assert.True(h.Has(FrameFlags.EndStream));
        peer.Respond(1, []);
        await call;
    }

    [Fact]
    public async Task ReceivedDataIsGivenBackWithWindowUpdates()
    {
        using var peer = new H2TestPeer();
        Task<Http2Connection> opening = Open(peer);
        peer.Handshake();
        using Http2Connection c = await opening;
        var call = Exchange(c, [1]);
        peer.ReadRequest();
        peer.Out.Headers(1, H2TestPeer.Block((":status", "200")), false, 16384);
        for (int i = 0; i < 3; i++) peer.Out.Frame(FrameType.Data, 0, 1, new byte[15_000]);
        peer.Out.Headers(1, H2TestPeer.Block(("grpc-status", "0")), true, 16384);
        peer.Send();
        (byte[] body, _) = await call;
        Assert.Equal(45_000, body.Length);
        (FrameHeader h, byte[] p) = peer.Read(FrameType.WindowUpdate);
        Assert.Equal(0, h.StreamId);
        Assert.Equal(45_000u, BinaryPrimitives.ReadUInt32BigEndian(p));
    }

    [Fact]
    public async Task PaddingPriorityAndContinuationInTheResponse()
    {
        using var peer = new H2TestPeer();
        Task<Http2Connection> opening = Open(peer);
        peer.Handshake();
        using Http2Connection c = await opening;
        var call = Exchange(c, [1]);
        peer.ReadRequest();
        byte[] block = H2TestPeer.Block((":status", "200"), ("x-long", new string('v', 300)));
        // HEADERS with PADDED and PRIORITY holding the first 10 bytes, CONTINUATION the rest.
        byte[] first = [3, 0, 0, 0, 0, 16, .. block[..10], 0, 0, 0];
        peer.Out.Frame(FrameType.Headers, FrameFlags.Padded | FrameFlags.Priority, 1, first);
        peer.Out.Frame(FrameType.Continuation, FrameFlags.EndHeaders, 1, block[10..]);
        peer.Out.Frame(FrameType.Data, FrameFlags.Padded, 1, [2, 7, 7, 0, 0]);
        peer.Out.Frame(FrameType.Priority, 0, 1, [0, 0, 0, 0, 16]);
        peer.Out.Frame((FrameType)0xfa, 0, 0, [1, 2]); // unknown type: ignored
        peer.Out.Headers(1, H2TestPeer.Block(("grpc-status", "0")), true, 16384);
        peer.Send();
        (byte[] body, H2TestPeer.ListSink sink) = await call;
        Assert.Equal([7, 7], body);
        Assert.Equal([(":status", "200"), ("x-long", new string('v', 300)), ("grpc-status", "0")], sink.Fields);
    }

    [Fact]
    public async Task AGoAwayBeforeTheStreamFailsItAndRetiresTheConnection()
    {
        using var peer = new H2TestPeer();
        Task<Http2Connection> opening = Open(peer);
        peer.Handshake();
        using Http2Connection c = await opening;
        var call = Exchange(c, [1]);
        peer.ReadRequest();
        byte[] goAway = [0, 0, 0, 0, 0, 0, 0, 0, .. "shutting down"u8];
        BinaryPrimitives.WriteUInt32BigEndian(goAway.AsSpan(4), (uint)Http2Error.NoError);
        peer.Out.Frame(FrameType.GoAway, 0, 0, goAway);
        peer.Send();
        var e = await Assert.ThrowsAsync<Http2Exception>(() => call);
        Assert.True(e.Retryable);
        Assert.Contains("GOAWAY (NoError, last stream 0): shutting down", e.Message);
        Assert.False(c.IsUsable);
    }

    [Fact]
    public async Task AGoAwayAfterTheStreamLetsItFinish()
    {
        using var peer = new H2TestPeer();
        Task<Http2Connection> opening = Open(peer);
        peer.Handshake();
        using Http2Connection c = await opening;
        var call = Exchange(c, [1]);
        peer.ReadRequest();
        byte[] goAway = new byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(goAway, 1);
        peer.Out.Frame(FrameType.GoAway, 0, 0, goAway);
        peer.Send();
        peer.Respond(1, [5]);
        (byte[] body, _) = await call;
        Assert.Equal([0, 0, 0, 0, 1, 5], body);
        Assert.False(c.IsUsable);
        Assert.Throws<Http2Exception>(() => c.Exchange(Request, [1], new H2TestPeer.ListSink(), H2TestPeer.Deadline));
    }

    [Fact]
    public async Task ARefusedStreamFailsTheRequestNotTheConnection()
    {
        using var peer = new H2TestPeer();
        Task<Http2Connection> opening = Open(peer);
        peer.Handshake();
        using Http2Connection c = await opening;
        var call = Exchange(c, [1]);
        peer.ReadRequest();
        peer.Out.RstStream(1, Http2Error.RefusedStream);
        peer.Send();
        var e = await Assert.ThrowsAsync<Http2Exception>(() => call);
        Assert.True(e.StreamOnly);
        Assert.True(e.Retryable);
        Assert.True(c.IsUsable);
        var again = Exchange(c, [2]);
        Assert.Equal(3, peer.ReadRequest().StreamId);
        peer.Respond(3, []);
        await again;
    }

    [Fact]
    public async Task APeerThatClosesBreaksTheConnection()
    {
        using var peer = new H2TestPeer();
        Task<Http2Connection> opening = Open(peer);
        peer.Handshake();
        using Http2Connection c = await opening;
        var call = Exchange(c, [1]);
        peer.ReadRequest();
        peer.CloseServerSide();
        var e = await Assert.ThrowsAsync<Http2Exception>(() => call);
        Assert.Equal("the peer closed the connection", e.Message);
        Assert.False(c.IsUsable);
    }

    [Fact]
    public async Task APeerThatNeverAnswersTimesOut()
    {
        using var peer = new H2TestPeer();
        Task<Http2Connection> opening = Open(peer);
        peer.Handshake();
        using Http2Connection c = await opening;
        var call = Exchange(c, [1], deadline: Podmon.Sys.Libc.MonotonicMs() + 300);
        peer.ReadRequest();
        await Assert.ThrowsAsync<TimeoutException>(() => call); // the peer never answers
        Assert.False(c.IsUsable);
    }

    [Fact]
    public async Task AServerThatDoesNotStartWithSettingsIsNotHttp2()
    {
        using var peer = new H2TestPeer();
        Task<Http2Connection> opening = Open(peer);
        peer.Out.Frame(FrameType.Ping, 0, 0, new byte[8]);
        peer.Send();
        var e = await Assert.ThrowsAsync<Http2Exception>(() => opening);
        Assert.Equal("the peer's first frame was Ping, not SETTINGS: not an HTTP/2 server", e.Message);
    }

    [Theory]
    [InlineData(FrameType.Settings, 0, 5, "SETTINGS length not a multiple of 6")]
    [InlineData(FrameType.Ping, 0, 4, "PING of a length other than 8")]
    [InlineData(FrameType.WindowUpdate, 0, 4, "WINDOW_UPDATE of 0 on the connection")]
    [InlineData(FrameType.PushPromise, 1, 8, "PUSH_PROMISE although push is disabled")]
    [InlineData(FrameType.Continuation, 1, 1, "CONTINUATION without HEADERS")]
    [InlineData(FrameType.Data, 0, 1, "DATA on stream 0")]
    public async Task ProtocolErrorsEndTheConnectionWithGoAway(FrameType type, int stream, int length, string message)
    {
        using var peer = new H2TestPeer();
        Task<Http2Connection> opening = Open(peer);
        peer.Handshake();
        using Http2Connection c = await opening;
        var call = Exchange(c, [1]);
        peer.ReadRequest();
        peer.Out.Frame(type, 0, stream, new byte[length]);
        peer.Send();
        var e = await Assert.ThrowsAsync<Http2Exception>(() => call);
        Assert.Equal(message, e.Message);
        Assert.False(c.IsUsable);
        Assert.Equal(FrameType.GoAway, peer.ReadSkippingAcks().H.Type);
    }
}
