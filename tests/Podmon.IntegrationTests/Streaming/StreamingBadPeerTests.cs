using System.Net.Sockets;
using System.Text;
using Podmon.IntegrationTests.Containers.Fixtures;
using Podmon.IntegrationTests.Rpc;
using static Podmon.IntegrationTests.Streaming.StreamingClient;

namespace Podmon.IntegrationTests.Streaming;

/// <summary>
/// Peers that break RFC 6455 (written by hand here: no real client would send these). Each loses
/// its own connection with a Close that says why; its exec process is killed; the server and
/// other sessions go on.
/// </summary>
public class StreamingBadPeerTests(RuncFixture fx) : IClassFixture<RuncFixture>
{
    RpcTestServer Server() => new(new PodmonProcess.RuntimeDir(), RuncFixture.Runc, "--runtime-root", fx.StateDir, "--cgroup-manager", "cgroupfs");

    static string Url(RpcTestServer s, params string[] args)
    {
        var r = ConmonRpc.Run(s.Socket, args);
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        return r.Json.GetProperty("url").GetString()!;
    }

    /// <summary>A TCP connection upgraded by hand; returns the socket after the 101.</summary>
    static Socket Upgrade(string url)
    {
        var uri = new Uri(url);
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 20_000 };
        s.Connect("127.0.0.1", uri.Port);
        s.Send(Encoding.ASCII.GetBytes($"GET {uri.PathAndQuery} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n"));
        var head = new List<byte>();
        var one = new byte[1];
        while (!Encoding.ASCII.GetString([.. head]).EndsWith("\r\n\r\n") && s.Receive(one) == 1) head.Add(one[0]);
        string text = Encoding.ASCII.GetString([.. head]);
        Assert.StartsWith("HTTP/1.1 101", text);
        Assert.Contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", text);
        return s;
    }

    /// <summary>Reads frames until a Close (returns its code) and then EOF.</summary>
    static int ReadUntilClose(Socket s)
    {
        var buf = new List<byte>();
        var chunk = new byte[4096];
        int code = -1;
        while (true)
        {
            int n = s.Receive(chunk);
            if (n == 0) return code;
            buf.AddRange(chunk.AsSpan(0, n).ToArray());
            while (buf.Count >= 2)
            {
                int len = buf[1] & 0x7f, at = 2;
                if (len == 126) { if (buf.Count < 4) break; len = buf[2] << 8 | buf[3]; at = 4; }
                if (buf.Count < at + len) break;
                if ((buf[0] & 0x0f) == 8) code = buf[at] << 8 | buf[at + 1];
                buf.RemoveRange(0, at + len);
            }
        }
    }

    int ExecProcesses(string id) =>
        Host.Run(RuncFixture.Runc, "--root", fx.StateDir, "ps", id).Output.Split('\n').Count(l => l.Contains("sleep 1000")
            || l.Contains("sleep 999"));

    [Theory]
    [InlineData(new byte[] { 0x82, 0x02, 0x00, 0x41 }, 1002)]                         // unmasked
    [InlineData(new byte[] { 0xC2, 0x80, 0, 0, 0, 0 }, 1002)]                         // RSV1 without an extension
    [InlineData(new byte[] { 0x82, 0xFF, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 1009)] // a 1 TiB frame
    [InlineData(new byte[] { 0x09, 0x80, 0, 0, 0, 0 }, 1002)]                         // a fragmented ping
    [InlineData(new byte[] { 0x80, 0x80, 0, 0, 0, 0 }, 1002)]                         // a continuation out of nowhere
    public void ABadFrameClosesThatConnectionAndKillsItsExecOnly(byte[] frame, int expectedCode)
    {
        using var s = Server();
        string id = fx.NewId("bad");
        var r = ConmonRpc.Run(s.Socket, "create", "--id", id, "--bundle", fx.Bundle(id, ["sleep", "1000"]));
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        fx.Start(id);
        int threads = s.Threads;

        using Socket bad = Upgrade(Url(s, "serve-exec", "--id", id, "--stdout", "--", "sleep", "999"));
        Assert.True(PodmonProcess.WaitUntil(() => ExecProcesses(id) == 2, 10_000), "the exec did not start");
        bad.Send(frame);
        Assert.Equal(expectedCode, ReadUntilClose(bad));
        Assert.True(PodmonProcess.WaitUntil(() => ExecProcesses(id) == 1, 10_000), "the bad peer's exec was not killed");

        var good = WebSocket(Url(s, "serve-exec", "--id", id, "--stdout", "--", "echo", "still here"), ["v5.channel.k8s.io"]);
        Assert.Equal("still here\n", good.Channel(1));
        Assert.True(s.Alive);
        Assert.Equal(threads, s.Threads); // no thread was started for any of it
    }
}
