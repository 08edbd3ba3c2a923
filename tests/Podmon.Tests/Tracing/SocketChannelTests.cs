using System.Net;
using System.Net.Sockets;
using Podmon.Sys;
using Podmon.Tracing;

namespace Podmon.Tests.Tracing;

/// <summary>The exporter's TCP connection over IPv4 and IPv6, its deadlines, and the stop that cuts a wait short.</summary>
public class SocketChannelTests
{
    static void RoundTrip(IPAddress listen, string endpoint)
    {
        using var listener = new TcpListener(listen, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var wakeup = new Wakeup();
        Endpoint e = Endpoint.Parse($"{endpoint}:{port}", "test");
        using SocketChannel c = SocketChannel.Connect(e.Resolve()[0], port, e.Authority, wakeup, Libc.MonotonicMs() + 10_000);
        using TcpClient server = listener.AcceptTcpClient();
        c.Write("ping"u8, Libc.MonotonicMs() + 10_000);
        byte[] got = new byte[4];
        server.GetStream().ReadExactly(got);
        Assert.Equal("ping"u8.ToArray(), got);
        Assert.False(c.Readable());
        server.GetStream().Write("pong"u8);
        int n = c.Read(got, Libc.MonotonicMs() + 10_000);
        Assert.Equal("pong"u8[..n].ToArray(), got[..n]);
        server.Close();
        while (c.Read(got, Libc.MonotonicMs() + 10_000) > 0) { }
        Assert.True(c.Readable()); // the end of the stream is readable
        wakeup.Close();
    }

    [Fact]
    public void ConnectsOverIPv4() => RoundTrip(IPAddress.Loopback, "127.0.0.1");

    [Fact]
    public void ConnectsOverIPv6() => RoundTrip(IPAddress.IPv6Loopback, "[::1]");

    [Fact]
    public void ARefusedConnectNamesThePeer()
    {
        int port;
        using (OwnedFd fd = Libc.ListenLoopback(out port)) { }
        var wakeup = new Wakeup();
        var e = Assert.Throws<SyscallException>(() =>
            SocketChannel.Connect([127, 0, 0, 1], port, $"127.0.0.1:{port}", wakeup, Libc.MonotonicMs() + 10_000));
        Assert.Equal($"connect 127.0.0.1:{port}: Connection refused (ECONNREFUSED)", e.Message);
        wakeup.Close();
    }

    [Fact]
    public void AReadGivesUpAtItsDeadlineOrWhenTheTracerStops()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var wakeup = new Wakeup();
        using SocketChannel c = SocketChannel.Connect([127, 0, 0, 1], port, "silent", wakeup, Libc.MonotonicMs() + 10_000);
        using TcpClient server = listener.AcceptTcpClient();
        var e = Assert.Throws<TimeoutException>(() => c.Read(new byte[1], Libc.MonotonicMs() + 50));
        Assert.Equal("read silent: timed out", e.Message);

        var reading = Task.Run(() => c.Read(new byte[1], Libc.MonotonicMs() + 600_000));
        wakeup.Stop(Libc.MonotonicMs() + 100); // Dispose's stop deadline, far before the read's own
        var stopped = Assert.Throws<AggregateException>(() => reading.Wait(60_000));
        Assert.Equal("read silent: the tracer stopped waiting", Assert.IsType<TimeoutException>(stopped.InnerException).Message);
        wakeup.Close();
    }
}
