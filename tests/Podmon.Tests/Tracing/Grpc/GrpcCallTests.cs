using System.Buffers.Binary;
using Podmon.Tests.Tracing.Http2;
using Podmon.Tracing.Grpc;
using Podmon.Tracing.Http2;
using Podmon.Tracing.Otlp;

namespace Podmon.Tests.Tracing.Grpc;

/// <summary>A unary gRPC call: the request it sends and how each kind of answer reads.</summary>
public class GrpcCallTests
{
    static readonly GrpcCall Call = new("127.0.0.1:4317", "/pkg.Svc/Method", "podmon/test", TimeSpan.FromSeconds(10));

    static async Task<(GrpcStatus Status, byte[] Response)> Run(Action<H2TestPeer, int> answer)
    {
        using var peer = new H2TestPeer();
        Task<Http2Connection> opening = Task.Run(() => Http2Connection.Open(peer.Client, H2TestPeer.Deadline));
        peer.Handshake();
        using Http2Connection c = await opening;
        byte[] message = new byte[GrpcCall.PrefixSize + 3];
        GrpcCall.WritePrefix(message, 3);
        var call = Task.Run(() => (Call.Invoke(c, message, H2TestPeer.Deadline, out byte[] r), r));
        (int stream, List<(string, string)> headers, byte[] body, _) = peer.ReadRequest();
        Assert.Equal(
        [
            (":method", "POST"), (":scheme", "http"), (":path", "/pkg.Svc/Method"), (":authority", "127.0.0.1:4317"),
            ("content-type", "application/grpc"), ("te", "trailers"), ("user-agent", "podmon/test"), ("grpc-timeout", "10000m"),
        ], headers);
        Assert.Equal([0, 0, 0, 0, 3, 0, 0, 0], body);
        answer(peer, stream);
        return await call;
    }

    [Fact]
    public async Task OkWithAResponseMessage()
    {
        (GrpcStatus status, byte[] response) = await Run((p, s) => p.Respond(s, [0x0a, 0x02, 0x08, 0x07]));
        Assert.True(status.IsOk);
        Assert.Equal([0x0a, 0x02, 0x08, 0x07], response);
        Assert.Equal(7, PartialSuccess.Parse(response).RejectedSpans);
    }

    [Fact]
    public async Task AnErrorStatusWithAPercentEncodedMessage()
    {
        (GrpcStatus status, _) = await Run((p, s) => p.Respond(s, [], GrpcStatus.Unavailable, "collector%20is%20full: 100%25"));
        Assert.False(status.IsOk);
        Assert.True(status.Retryable);
        Assert.Equal("grpc-status 14 UNAVAILABLE: collector is full: 100%", status.ToString());
    }

    [Fact]
    public async Task ATrailersOnlyAnswer()
    {
        (GrpcStatus status, _) = await Run((p, s) =>
        {
            p.Out.Headers(s, H2TestPeer.Block((":status", "200"), ("content-type", "application/grpc"), ("grpc-status", "12")), true, 16384);
            p.Send();
        });
        Assert.Equal(GrpcStatus.Unimplemented, status.Code);
        Assert.False(status.Retryable);
    }

    [Fact]
    public async Task AnHttpErrorIsMappedAsGrpcSays()
    {
        (GrpcStatus status, _) = await Run((p, s) =>
        {
            p.Out.Headers(s, H2TestPeer.Block((":status", "503"), ("content-type", "text/plain")), true, 16384);
            p.Send();
        });
        Assert.Equal(GrpcStatus.Unavailable, status.Code);
        Assert.Equal("HTTP status 503, content-type text/plain", status.Message);
    }

    [Fact]
    public async Task NoGrpcStatusIsAFailure()
    {
        (GrpcStatus status, _) = await Run((p, s) =>
        {
            p.Out.Headers(s, H2TestPeer.Block((":status", "200")), true, 16384);
            p.Send();
        });
        Assert.Equal(GrpcStatus.Internal, status.Code);
        Assert.Equal("the response has no grpc-status", status.Message);
    }

    [Fact]
    public void PartialSuccessReadsBothFieldsAndToleratesGarbage()
    {
        byte[] inner = [0x08, 0x05, 0x12, 0x03, (byte)'b', (byte)'a', (byte)'d'];
        Assert.Equal(new PartialSuccess(5, "bad"), PartialSuccess.Parse([0x0a, (byte)inner.Length, .. inner]));
        Assert.Equal(default, PartialSuccess.Parse([]));
        Assert.Equal(default, PartialSuccess.Parse([0x0a, 0x7f, 0x08]));
        Assert.Equal(default, PartialSuccess.Parse([0xff]));
    }

    [Fact]
    public void ThePrefixIsAFlagAndABigEndianLength()
    {
        byte[] p = new byte[5];
        GrpcCall.WritePrefix(p, 0x01020304);
        Assert.Equal([0, 1, 2, 3, 4], p);
        Assert.Equal(0x01020304u, BinaryPrimitives.ReadUInt32BigEndian(p.AsSpan(1)));
    }
}
