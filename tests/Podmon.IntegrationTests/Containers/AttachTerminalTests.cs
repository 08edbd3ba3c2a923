using System.Net.Sockets;
using System.Text;
using Podmon.Containers;
using Podmon.Logging;
using Podmon.IntegrationTests.Containers.Fixtures;

namespace Podmon.IntegrationTests.Containers;

public class AttachTerminalTests(RuncFixture fx) : IClassFixture<RuncFixture>
{
    string Temp(string name) => Path.Combine(fx.Root, $"{Guid.NewGuid():N}-{name}");

    sealed class Client(string path) : IDisposable
    {
        public readonly Socket Socket = Connect(path);
        public readonly List<(byte Stream, string Text)> Packets = [];
        public bool Closed;

        static Socket Connect(string path)
        {
            var s = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
            s.Connect(new UnixDomainSocketEndPoint(path));
            s.Blocking = false;
            return s;
        }

        public void Poll()
        {
            var buf = new byte[9000];
            while (!Closed)
            {
                int n;
                try { n = Socket.Receive(buf); }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock) { return; }
                if (n == 0) { Closed = true; return; }
                Packets.Add((buf[0], Encoding.UTF8.GetString(buf, 1, n - 1)));
            }
        }

        public string Stream(byte s) => string.Concat(Packets.Where(p => p.Stream == s).Select(p => p.Text));

        public void Dispose() => Socket.Dispose();
    }

    [Fact]
    public void AttachFramesStdoutAndStderrAndFeedsStdinToSeveralClients()
    {
        using var h = new EngineHarness(fx);
        string id = fx.NewId("att");
        h.CreateOk(new CreateRequest
        {
            Id = id, BundlePath = fx.Bundle(id, ["sh", "-c", "read l; echo \"got:$l\"; echo \"err:$l\" >&2; read m; exit 0"]), Stdin = true,
        });
        string path = Temp("attach.sock");
        h.Engine.Attach(id, path, stopAfterStdinEof: false);
        h.Engine.Attach(id, path, stopAfterStdinEof: false); // already served: accepted, like conmon-rs
        using var a = new Client(path);
        using var b = new Client(path);
        fx.Start(id);
        a.Socket.Send("hello\n"u8);
        h.RunUntil(() => { a.Poll(); b.Poll(); return a.Stream(3).Contains('\n') && b.Stream(3).Contains('\n'); }, what: "output on both clients");
        foreach (Client c in new[] { a, b })
        {
            Assert.Equal("got:hello\n", c.Stream(2));
            Assert.Equal("err:hello\n", c.Stream(3));
        }
        b.Socket.Send("bye\n"u8);
        Assert.Equal(0, h.WaitExit(id));
        h.RunUntil(() => { a.Poll(); b.Poll(); return a.Closed && b.Closed; }, what: "clients closed");
        Assert.Equal((0, ""), (a.Packets[^1].Stream, a.Packets[^1].Text)); // the done packet
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void StopAfterStdinEofClosesTheContainersStdin()
    {
        using var h = new EngineHarness(fx);
        string id = fx.NewId("att");
        h.CreateOk(new CreateRequest { Id = id, BundlePath = fx.Bundle(id, ["cat"]), Stdin = true });
        string path = Temp("attach.sock");
        h.Engine.Attach(id, path, stopAfterStdinEof: true);
        using var c = new Client(path);
        fx.Start(id);
        c.Socket.Send("abc\n"u8);
        c.Socket.Shutdown(SocketShutdown.Send);
        Assert.Equal(0, h.WaitExit(id));
        h.RunUntil(() => { c.Poll(); return c.Closed; }, what: "client closed");
        Assert.Equal("abc\n", c.Stream(2));
    }

    [Theory]
    [InlineData(32 * 1024)]  // podman's packets
    [InlineData(64 * 1024)]
    [InlineData(160 * 1024)] // beyond any fixed buffer a reader might pick: only the sender's SO_SNDBUF bounds a record
    public void StdinThroughBigPacketsArrivesByteExact(int packet)
    {
        using var h = new EngineHarness(fx);
        string id = fx.NewId("stdin");
        h.CreateOk(new CreateRequest { Id = id, BundlePath = fx.Bundle(id, ["sha256sum"]), Stdin = true });
        string path = Temp("attach.sock");
        h.Engine.Attach(id, path, stopAfterStdinEof: true);
        using var c = new Client(path);
        fx.Start(id);
        byte[] data = new byte[3 * 1024 * 1024 + 12345];
        new Random(packet).NextBytes(data);
        SendAll(h, c.Socket, data, packet);
        c.Socket.Shutdown(SocketShutdown.Send);
        Assert.Equal(0, h.WaitExit(id));
        h.RunUntil(() => { c.Poll(); return c.Closed; }, what: "client closed");
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(data)) + "  -\n", c.Stream(2));
    }

    /// <summary>Sends <paramref name="data"/> in SEQPACKET records of <paramref name="packet"/> bytes while the engine's loop runs on this thread.</summary>
    internal static void SendAll(EngineHarness h, Socket s, byte[] data, int packet)
    {
        s.SendBufferSize = Math.Max(s.SendBufferSize, packet * 2);
        for (int off = 0; off < data.Length;)
        {
            int n = Math.Min(packet, data.Length - off);
            try
            {
                Assert.Equal(n, s.Send(data, off, n, SocketFlags.None)); // a record goes whole or not at all
                off += n;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock)
            {
                h.Loop.RunOnce(10);
            }
        }
    }

    [Fact]
    public void ASlowAttachClientHoldsTheOutputBackAndGetsEveryByte()
    {
        // 12 MB, more than podmon ever queues for a client: while the client does not read, the
        // container has to wait (its pipe stays full), and afterwards every byte arrives.
        using var h = new EngineHarness(fx);
        string id = fx.NewId("att");
        h.CreateOk(new CreateRequest { Id = id, BundlePath = fx.Bundle(id, ["sh", "-c", "read x; head -c 12000000 /dev/zero | tr '\\0' q"]), Stdin = true });
        string path = Temp("attach.sock");
        h.Engine.Attach(id, path, false);
        using var c = new Client(path);
        fx.Start(id);
        c.Socket.Send("go\n"u8);
        h.RunFor(2000);
        Assert.Equal(ContainerState.Running, h.Engine.Find(id)!.State);
        h.RunUntil(() => { c.Poll(); return c.Closed; }, what: "client closed");
        Assert.Equal(12_000_000, c.Stream(2).Length);
        Assert.Equal(0, h.WaitExit(id));
    }

    [Fact]
    public void LargeOutputIsSplitIntoPacketsOf8192()
    {
        using var h = new EngineHarness(fx);
        string id = fx.NewId("att");
        h.CreateOk(new CreateRequest { Id = id, BundlePath = fx.Bundle(id, ["sh", "-c", "read x; head -c 50000 /dev/zero | tr '\\0' q"]), Stdin = true });
        string path = Temp("attach.sock");
        h.Engine.Attach(id, path, false);
        using var c = new Client(path);
        fx.Start(id);
        c.Socket.Send("go\n"u8);
        h.WaitExit(id);
        h.RunUntil(() => { c.Poll(); return c.Closed; }, what: "client closed");
        Assert.Equal(new string('q', 50000), c.Stream(2));
        Assert.All(c.Packets, p => Assert.True(p.Text.Length <= 8191));
    }

    [Fact]
    public void WindowSizeReachesTheTerminal()
    {
        using var h = new EngineHarness(fx);
        string id = fx.NewId("tty");
        string log = Temp("tty.log");
        h.CreateOk(new CreateRequest
        {
            Id = id, BundlePath = fx.Bundle(id, ["sh", "-c", "stty -echo; read x; stty size"], terminal: true), Terminal = true, Stdin = true,
            LogDrivers = [new LogDriverConfig(LogDriverType.ContainerRuntimeInterface, log)],
        });
        fx.Start(id);
        h.RunFor(200);
        h.Engine.SetWindowSize(id, 123, 45);
        h.Engine.Find(id)!.Io.Stdin!.Write("\n"u8);
        Assert.Equal(0, h.WaitExit(id));
        Assert.Contains("stdout F 45 123\r\n", File.ReadAllText(log));
    }

    [Fact]
    public void WindowSizeWithoutATerminalIsAClearError()
    {
        using var h = new EngineHarness(fx);
        string id = fx.NewId("notty");
        h.CreateOk(new CreateRequest { Id = id, BundlePath = fx.Bundle(id, ["sleep", "100"]) });
        var e = Assert.Throws<ContainerException>(() => h.Engine.SetWindowSize(id, 80, 24));
        Assert.Contains("has no terminal", e.Message);
        Assert.Contains("not found", Assert.Throws<ContainerException>(() => h.Engine.SetWindowSize("missing", 80, 24)).Message);
        Assert.Contains("not found", Assert.Throws<ContainerException>(() => h.Engine.Attach("missing", Temp("x"), false)).Message);
    }
}
