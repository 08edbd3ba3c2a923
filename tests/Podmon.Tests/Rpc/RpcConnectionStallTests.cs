using System.Net.Sockets;
using Podmon.Capnp.Rpc;
using Podmon.Rpc;
using Podmon.Testing;

namespace Podmon.Tests.Rpc;

/// <summary>The stall timeout, in process with a short one: a frame that never completes closes its connection.</summary>
public class RpcConnectionStallTests
{
    /// <summary>
    /// One end of a socketpair handed to the server as an accepted connection; the other, returned,
    /// blocks: a fork elsewhere in the test process can hold a copy of the server's end until its
    /// exec, so EOF may come a moment after the close, and a non-blocking read would fail.
    /// </summary>
    static unsafe Socket Connected(RpcServer server)
    {
        int* sv = stackalloc int[2];
        Assert.Equal(0, Podmon.Sys.Libc.socketpair(Podmon.Sys.Libc.AF_UNIX, Podmon.Sys.Libc.SOCK_STREAM | Podmon.Sys.Libc.SOCK_CLOEXEC, 0, sv));
        Podmon.Sys.Libc.SetNonBlocking(sv[0]);
        server.Accept(new Podmon.Sys.OwnedFd(sv[0]));
        return new Socket(new SafeSocketHandle(sv[1], ownsHandle: true)) { ReceiveTimeout = 10_000 };
    }

    /// <summary>Every message the server sent until it closed.</summary>
    static List<Msg> ReadToEnd(Socket client)
    {
        byte[] buf = new byte[4096];
        int len = 0, n;
        while ((n = client.Receive(buf, len, buf.Length - len, SocketFlags.None)) > 0) len += n;
        return RpcWire.SplitFrames(buf.AsSpan(0, len), out _).Select(RpcWire.Decode).ToList();
    }

    sealed class DeferringCap : Podmon.Capnp.Rpc.ICapability
    {
        public Podmon.Capnp.Rpc.RpcCall? Call;
        public ulong InterfaceId => Podmon.Schema.Conmon.InterfaceId;
        public void Dispatch(ushort methodId, Podmon.Capnp.StructReader parameters, Podmon.Capnp.Rpc.RpcCall call) => Call = call.Defer();
    }

    [Fact]
    public void AHalfClosedPeerIsClosedAsSoonAsItsLastDeferredCallIsAnswered()
    {
        // A call answered later (a create, createNamespaces) after the peer's SHUT_WR: the answer is
        // written, then the connection closes at once, not when the peer gives up.
        using var loop = new Podmon.Loop.EventLoop();
        var cap = new DeferringCap();
        var server = new RpcServer(loop, cap);
        using Socket client = Connected(server);
        client.Send([.. RpcWire.Bootstrap(0), .. RpcWire.Call(1, 0)]);
        client.Shutdown(SocketShutdown.Send);
        for (int i = 0; i < 10; i++) loop.RunOnce(20);
        Assert.NotNull(cap.Call);
        Assert.Equal(1, server.ConnectionCount); // an answer is still owed
        cap.Call!.Fail("answered late");
        for (int i = 0; i < 10 && server.ConnectionCount > 0; i++) loop.RunOnce(20);
        Assert.Equal(0, server.ConnectionCount);
        Assert.Equal("answered late", ReadToEnd(client)[^1].Reason);
    }

    [Fact]
    public void AFrameStalledMidwayIsAbortedAfterTheTimeout()
    {
        using var loop = new Podmon.Loop.EventLoop();
        var server = new RpcServer(loop, TestConmon.Create(), stallTimeoutMs: 300);
        using Socket client = Connected(server);
        byte[] call = RpcWire.Call(1, 0);
        client.Send([.. RpcWire.Bootstrap(0), .. call[..20]]);
        long start = Environment.TickCount64;
        while (server.ConnectionCount > 0 && Environment.TickCount64 - start < 5000) loop.RunOnce(50);
        long took = Environment.TickCount64 - start;
        Assert.Equal(0, server.ConnectionCount);
        Assert.True(took >= 250, $"closed after {took} ms, before the timeout");
        List<Msg> got = ReadToEnd(client);
        Assert.Equal([RpcMessageWhich.Return, RpcMessageWhich.Abort], got.Select(m => m.Which));
        Assert.Equal($"no complete message within 300 ms: 20 of {call.Length} bytes received", got[1].Reason);
    }
}
