using System.Buffers.Binary;
using System.Text;
using Podmon.Sys;
using Podmon.Tracing;
using Podmon.Tracing.Http2;

namespace Podmon.Tests.Tracing.Http2;

/// <summary>
/// The server end of a socketpair, scripted by a test frame by frame, with the client end for an
/// <see cref="Http2Connection"/>. Waits are bounded (a broken client fails the test, never hangs it).
/// </summary>
sealed unsafe class H2TestPeer : IDisposable
{
    readonly SocketChannel _channel;
    readonly FrameReader _reader;
    readonly HpackDecoder _decoder = new();
    public readonly FrameWriter Out = new();
    public readonly Wakeup Wakeup = new();
    public SocketChannel Client { get; }

    public H2TestPeer()
    {
        int* sv = stackalloc int[2];
        Errno.Check(Libc.socketpair(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, 0, sv), "socketpair");
        Client = new SocketChannel(new OwnedFd(sv[0]), Wakeup, "test server");
        _channel = new SocketChannel(new OwnedFd(sv[1]), Wakeup, "test client");
        _reader = new FrameReader(_channel, 1 << 20);
    }

    public static long Deadline => Libc.MonotonicMs() + 10_000;

    public (FrameHeader H, byte[] P) Read()
    {
        FrameHeader h = _reader.Next(Deadline, out ReadOnlySpan<byte> p);
        return (h, p.ToArray());
    }

    public (FrameHeader H, byte[] P) Read(FrameType expected)
    {
        (FrameHeader h, byte[] p) = Read();
        Assert.True(h.Type == expected, $"expected {expected}, got {h}");
        return (h, p);
    }

    public void Send() => Out.Flush(_channel, Deadline);

    /// <summary>Preface and client SETTINGS read (returned), then this side's SETTINGS sent and the client's acked.</summary>
    public Dictionary<ushort, uint> Handshake(params (ushort Id, uint Value)[] settings)
    {
        _reader.ExpectClientPreface(Deadline);
        (FrameHeader h, byte[] p) = Read(FrameType.Settings);
        Assert.False(h.Has(FrameFlags.Ack));
        var client = new Dictionary<ushort, uint>();
        for (int i = 0; i < p.Length; i += 6)
            client[BinaryPrimitives.ReadUInt16BigEndian(p.AsSpan(i))] = BinaryPrimitives.ReadUInt32BigEndian(p.AsSpan(i + 2));
        Out.Settings(settings);
        Out.SettingsAck();
        Send();
        return client;
    }

    /// <summary>Reads the client's request: its header fields and its body (DATA until END_STREAM), skipping acks.</summary>
    public (int StreamId, List<(string, string)> Headers, byte[] Body, List<int> DataFrameSizes) ReadRequest()
    {
        (FrameHeader h, byte[] p) = ReadSkippingAcks();
        Assert.Equal(FrameType.Headers, h.Type);
        var block = new List<byte>(p);
        while (!h.Has(FrameFlags.EndHeaders))
        {
            (FrameHeader c, byte[] cp) = Read(FrameType.Continuation);
            block.AddRange(cp);
            h = h with { Flags = c.Flags };
        }
        List<(string, string)> headers = Decode([.. block]);
        var body = new List<byte>();
        var sizes = new List<int>();
        bool end = h.Has(FrameFlags.EndStream);
        while (!end)
        {
            (FrameHeader d, byte[] dp) = ReadSkippingAcks();
            Assert.Equal(FrameType.Data, d.Type);
            body.AddRange(dp);
            sizes.Add(d.Length);
            end = d.Has(FrameFlags.EndStream);
        }
        return (h.StreamId, headers, [.. body], sizes);
    }

    public (FrameHeader H, byte[] P) ReadSkippingAcks()
    {
        while (true)
        {
            (FrameHeader h, byte[] p) = Read();
            if (h.Type == FrameType.Settings && h.Has(FrameFlags.Ack)) continue;
            return (h, p);
        }
    }

    public List<(string, string)> Decode(byte[] block)
    {
        var sink = new ListSink();
        _decoder.Decode(block, sink);
        return sink.Fields;
    }

    public static byte[] Block(params (string Name, string Value)[] fields)
    {
        var block = new List<byte>();
        foreach ((string n, string v) in fields) HeaderBlockEncoder.Add(block, n, v);
        return [.. block];
    }

    /// <summary>A whole gRPC answer: headers, one message, trailers with <paramref name="status"/>.</summary>
    public void Respond(int streamId, byte[] message, int status = 0, string? grpcMessage = null)
    {
        Out.Headers(streamId, Block((":status", "200"), ("content-type", "application/grpc")), false, 16384);
        var framed = new byte[5 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(framed.AsSpan(1), (uint)message.Length);
        message.CopyTo(framed, 5);
        Out.Frame(FrameType.Data, 0, streamId, framed);
        var trailers = new List<(string, string)> { ("grpc-status", status.ToString()) };
        if (grpcMessage is not null) trailers.Add(("grpc-message", grpcMessage));
        Out.Headers(streamId, Block([.. trailers]), true, 16384);
        Send();
    }

    /// <summary>Closes the server end, as a collector that goes away does.</summary>
    public void CloseServerSide() => _channel.Dispose();

    public void Dispose()
    {
        _channel.Dispose();
        Client.Dispose();
        Wakeup.Close();
    }

    public sealed class ListSink : IHeaderSink
    {
        public readonly List<(string, string)> Fields = [];
        public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) =>
            Fields.Add((Encoding.UTF8.GetString(name), Encoding.UTF8.GetString(value)));
    }
}
