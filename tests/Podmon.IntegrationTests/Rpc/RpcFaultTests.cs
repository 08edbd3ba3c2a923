using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using Podmon.Capnp;
using Podmon.Capnp.Rpc;
using Podmon.Rpc;
using Podmon.Schema;

namespace Podmon.IntegrationTests.Rpc;

/// <summary>
/// What a peer (or the host) can do to the published server: half-close with answers owed, exhaust
/// the fd limit, make it buffer or copy big messages, send a request it cannot serve. The server must
/// answer what it owes, stay bounded, and keep serving a well-behaved client.
/// </summary>
public class RpcFaultTests
{
    static Socket Connect(string path)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(path));
        s.ReceiveTimeout = 10_000;
        return s;
    }

    static long StatusKb(int pid, string field) => long.Parse(PodmonProcess.Status(pid)[field].Split(' ')[0]);

    /// <summary>Resets VmHWM to the current RSS, so it then shows the peak of what follows.</summary>
    static void ResetPeak(int pid) => File.WriteAllText($"/proc/{pid}/clear_refs", "5");

    [Fact]
    public void HalfClosedClientGetsEveryAnswerBeforeTheServerCloses()
    {
        using var server = new RpcTestServer();
        for (int round = 0; round < 3; round++)
        {
            using var c = new RawClient(server.Socket, 30_000);
            byte[] stream = [.. RpcWire.Bootstrap(0), .. Enumerable.Range(1, 2000).SelectMany(i => RpcWire.Call((uint)i, 0, verbose: true))];
            // The client writes everything before it reads (the server stops reading while its answers
            // wait), so the writing happens beside the reading.
            var writer = new Thread(() =>
            {
                c.Send(stream);
                c.ShutdownWrite();
            });
            writer.Start();
            List<Msg> got = c.ReadToEnd();
            writer.Join();
            Assert.Equal(2001, got.Count(m => m.Which == RpcMessageWhich.Return));
            Assert.True(got[0].ContentIsCapability);
            Assert.Equal(Enumerable.Range(1, 2000).Select(i => (uint)i), got.Skip(1).Select(m => m.Id));
            Assert.All(got.Skip(1), m => Assert.StartsWith("podmon v", m.CargoTree));
            Assert.Equal(0, RpcWire.SplitFrames(c.Received.ToArray(), out int rest).Count - 2001 + rest); // nothing cut mid-frame
        }
        using var fresh = new RawClient(server.Socket);
        fresh.VersionRound(server.Pid, 1, 1, bootstrap: true);
    }

    [Fact]
    public void UnknownLogDriverFailsThatCallOnly()
    {
        using var server = new RpcTestServer();
        using var c = new RawClient(server.Socket);
        c.Send(RpcWire.Bootstrap(0), CreateWithLogDriver(1, (LogDriverType)7));
        Assert.True(c.ReadMsg().ContentIsCapability);
        Msg failed = c.ReadMsg();
        Assert.Equal((1u, ReturnWhich.Exception), (failed.Id, failed.ReturnWhich));
        Assert.Equal("logDrivers[0]: unknown log driver type 7 (podmon knows containerRuntimeInterface, json and journald)", failed.Reason);
        c.VersionRound(server.Pid, 2, 3, bootstrap: false); // the same connection goes on
    }

    static byte[] CreateWithLogDriver(uint q, LogDriverType type)
    {
        using var m = new MessageBuilder();
        CallBuilder c = RpcMessageBuilder.InitRoot(m).InitCall();
        c.QuestionId = q;
        c.InterfaceId = Conmon.InterfaceId;
        c.MethodId = (ushort)ConmonMethod.CreateContainer;
        c.InitTarget().InitPromisedAnswer().InitTransform(0);
        var r = CreateContainerParamsBuilder.Init(c.InitParams().Content).InitRequest();
        r.SetId("c1");
        r.SetBundlePath("/nonexistent/bundle");
        LogDriverBuilder d = r.InitLogDrivers(1)[0];
        d.Type = type;
        d.SetPath("/nonexistent/log");
        return m.Frame.ToArray();
    }

    [Fact]
    public void AtTheFdLimitTheServerWaitsQuietlyAndServesOnceFdsAreFree()
    {
        using var dir = new PodmonProcess.RuntimeDir();
        using Process p = PodmonProcess.Start(["--runtime", "/bin/true", "--runtime-dir", dir.Path, "--log-driver", "stdout", "--log-level", "info", "--skip-fork"]);
        var log = new ConcurrentQueue<string>();
        var reader = new Thread(() => { while (p.StandardOutput.ReadLine() is string l) log.Enqueue(l); }) { IsBackground = true };
        reader.Start();
        var clients = new List<Socket>();
        try
        {
            Assert.True(PodmonProcess.WaitUntil(() => File.Exists(dir.Socket) && dir.ServerPid == p.Id, 10_000), "server did not start");
            // Room for exactly 3 more descriptors: the lowest free numbers are what accept4 hands out.
            int highest = Directory.GetFiles($"/proc/{p.Id}/fd").Select(f => int.Parse(Path.GetFileName(f))).Max();
            int limit = highest + 1 + 3;
            var pl = Process.Start("prlimit", ["--pid", p.Id.ToString(), $"--nofile={limit}:{limit}"])!;
            pl.WaitForExit();
            Assert.Equal(0, pl.ExitCode);

            for (int i = 0; i < 3; i++)
            {
                var c = Connect(dir.Socket);
                clients.Add(c);
                Version(c, p.Id, bootstrap: true, q: 1);
            }
            // These wait in the backlog: the server is at its limit.
            for (int i = 0; i < 20; i++) clients.Add(Connect(dir.Socket));
            Assert.True(PodmonProcess.WaitUntil(() => log.Any(l => l.Contains("new clients wait until a file descriptor is free")), 20_000), string.Join('\n', log));

            long before = PodmonProcess.CpuTicks(p.Id);
            Thread.Sleep(2000);
            long used = PodmonProcess.CpuTicks(p.Id) - before;
            Assert.True(used < 50, $"{used} ticks (1/100 s) of CPU in 2 s at the fd limit");
            Assert.Single(log, l => l.Contains("Too many open files (EMFILE)"));

            // One served client leaves: the first waiting one is accepted and answered.
            clients[0].Dispose();
            Version(clients[3], p.Id, bootstrap: true, q: 1);
            for (int i = 1; i < 3; i++) clients[i].Dispose();
            Version(clients[4], p.Id, bootstrap: true, q: 1);
            Version(clients[3], p.Id, bootstrap: false, q: 2); // the first waiting client still works
            // Everyone leaves: the backlog drains and the episode ends, with one line.
            foreach (Socket c in clients) c.Dispose();
            // A loaded machine may take seconds to drain the backlog's closed clients: the bound is generous, the point is that it ends.
            Assert.True(PodmonProcess.WaitUntil(() => log.Any(l => l.Contains("accepting clients on")), 20_000),
                string.Join('\n', log) + $"\nserver fds: {string.Join(' ', Directory.GetFiles($"/proc/{p.Id}/fd").Select(f => Path.GetFileName(f) + "->" + new FileInfo(f).LinkTarget))}");
            using (var fresh = Connect(dir.Socket)) Version(fresh, p.Id, bootstrap: true, q: 1);
            Assert.Single(log, l => l.Contains("Too many open files (EMFILE)"));
            Assert.Single(log, l => l.Contains("accepting clients on"));
        }
        finally
        {
            foreach (Socket c in clients) c.Dispose();
            if (!p.HasExited) p.Kill();
            p.WaitForExit();
        }
    }

    /// <summary>(Bootstrap and) one version call with question <paramref name="q"/>; checks the answer.</summary>
    static void Version(Socket s, int pid, bool bootstrap, uint q)
    {
        s.Send(bootstrap ? [.. RpcWire.Bootstrap(0), .. RpcWire.Call(q, 0)] : RpcWire.Call(q, 0));
        var frames = new List<Msg>();
        byte[] buf = new byte[64 * 1024];
        int len = 0;
        while (frames.Count < (bootstrap ? 2 : 1))
        {
            int n = s.Receive(buf, len, buf.Length - len, SocketFlags.None);
            Assert.True(n > 0, "connection closed before the answer");
            len += n;
            List<byte[]> got = RpcWire.SplitFrames(buf.AsSpan(0, len), out int rest);
            if (got.Count == 0) continue;
            frames.AddRange(got.Select(RpcWire.Decode));
            buf.AsSpan(len - rest, rest).CopyTo(buf);
            len = rest;
        }
        Msg answer = frames[^1];
        Assert.Equal(q, answer.Id);
        Assert.Equal((uint)pid, answer.VersionPid);
    }

    /// <summary>
    /// A Resolve (which podmon does not implement, so it is echoed as Unimplemented) whose one
    /// pointer is a list of <paramref name="pointers"/> struct pointers that all point at the same
    /// 120-word struct: 525 KiB on the wire that a deep copy makes 63 MB.
    /// </summary>
    static byte[] AmplifyingResolve(uint promiseId, int pointers = 65_536)
    {
        int structAt = 5 + pointers, words = structAt + 120;
        var frame = new byte[8 + 8 * words];
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(4), (uint)words);
        static ulong StructPtr(int offset, int data, int ptrs) => (uint)(offset << 2) | (ulong)data << 32 | (ulong)ptrs << 48;
        void Word(int i, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(frame.AsSpan(8 + 8 * i), v);
        Word(0, StructPtr(0, 1, 1)); // root → RpcMessage at 1
        Word(1, (ulong)RpcMessageWhich.Resolve);
        Word(2, StructPtr(0, 1, 1)); // RpcMessage.resolve → 3
        Word(3, promiseId); // Resolve.promiseId
        Word(4, 1u | 6UL << 32 | (ulong)pointers << 35); // Resolve pointer 0 → pointer list at 5
        for (int i = 0; i < pointers; i++) Word(5 + i, StructPtr(structAt - (5 + i + 1), 120, 0));
        for (int i = 0; i < 120; i++) Word(structAt + i, 0x0101_0101_0101_0101UL * (ulong)(i + 1));
        return frame;
    }

    [Fact]
    public void AnAmplifyingUnimplementedMessageIsEchoedSmall()
    {
        using var server = new RpcTestServer();
        using var good = new RawClient(server.Socket);
        good.VersionRound(server.Pid, 1, 1, bootstrap: true);
        byte[] resolve = AmplifyingResolve(77);
        Assert.InRange(resolve.Length, 500 * 1024, 530 * 1024);
        long idleKb = StatusKb(server.Pid, "VmRSS");
        ResetPeak(server.Pid);
        for (int round = 0; round < 4; round++)
        {
            using var c = new RawClient(server.Socket);
            c.Send(RpcWire.Bootstrap(0), resolve, RpcWire.Call(1, 0));
            Assert.True(c.ReadMsg().ContentIsCapability);
            byte[] echo = c.ReadFrame()!;
            Msg m = RpcWire.Decode(echo);
            Assert.Equal(RpcMessageWhich.Unimplemented, m.Which);
            Assert.Equal((RpcMessageWhich.Resolve, 77u), (m.Inner!.Which, m.Inner.Id));
            Assert.True(echo.Length <= 64 * 1024 + 16, $"echo of {echo.Length} bytes");
            Assert.Equal((uint)server.Pid, c.ReadMsg().VersionPid); // the connection goes on
            good.VersionRound(server.Pid, (uint)(10 + round), 1, bootstrap: false);
        }
        long peakKb = StatusKb(server.Pid, "VmHWM");
        Assert.True(peakKb < 20 * 1024, $"peak RSS {peakKb} kB (idle {idleKb} kB)");
        Assert.True(PodmonProcess.WaitUntil(() => StatusKb(server.Pid, "VmRSS") < idleKb + 4096, 10_000),
            $"RSS {StatusKb(server.Pid, "VmRSS")} kB after the burst (idle {idleKb} kB)");
    }

    [Fact]
    public void IncompleteFramesOfManyConnectionsStayWithinTheBudget()
    {
        using var server = new RpcTestServer();
        using var good = new RawClient(server.Socket);
        good.VersionRound(server.Pid, 1, 1, bootstrap: true);
        long idleKb = StatusKb(server.Pid, "VmRSS");
        ResetPeak(server.Pid);
        const int Frame = 4 << 20, Sent = 3 << 20, Budget = RpcServer.DefaultBufferBudgetBytes;
        var hogs = Enumerable.Range(0, 8).Select(_ => Connect(server.Socket)).ToList();
        try
        {
            byte[] body = new byte[Sent];
            Random.Shared.NextBytes(body);
            var writers = hogs.Select(h => new Thread(() =>
            {
                try { h.Send([.. RpcWire.HeaderClaiming(Frame - 8), .. body]); }
                catch (SocketException) { } // aborted and closed by the server
            })).ToList();
            // One after the other, so which ones fit is known: 4 × 4 MiB fill the 16 MiB budget.
            foreach (Thread w in writers) { w.Start(); w.Join(); good.VersionRound(server.Pid, 2, 1, bootstrap: false); }
            for (int i = 0; i < hogs.Count; i++)
            {
                bool readable = hogs[i].Poll(300_000, SelectMode.SelectRead);
                if (i < Budget / Frame)
                {
                    Assert.False(readable, $"connection {i} fits the budget and must still be waiting for its frame");
                    continue;
                }
                Assert.True(readable);
                byte[] buf = new byte[4096];
                int n = hogs[i].Receive(buf);
                Msg abort = RpcWire.Decode(buf[..n]);
                Assert.Equal(RpcMessageWhich.Abort, abort.Which);
                Assert.StartsWith($"message of {Frame} bytes does not fit in the server's budget for incomplete messages ({Budget} of {Budget} bytes held", abort.Reason);
            }
            long peakKb = StatusKb(server.Pid, "VmHWM");
            Assert.True(peakKb - idleKb < (Budget + (4 << 20)) / 1024, $"peak RSS {peakKb} kB, idle {idleKb} kB");
            good.VersionRound(server.Pid, 3, 2, bootstrap: false);
        }
        finally
        {
            foreach (Socket h in hogs) h.Dispose();
        }
        // The budget is free again: a big frame fits.
        using var big = new RawClient(server.Socket);
        big.Send(RpcWire.Bootstrap(0), BigVersionCall(1, 8 << 20));
        Assert.True(big.ReadMsg().ContentIsCapability);
        Assert.Equal((uint)server.Pid, big.ReadMsg().VersionPid);
        good.VersionRound(server.Pid, 5, 1, bootstrap: false);
    }

    /// <summary>A version call of about <paramref name="bytes"/>: one metadata entry carries a big value.</summary>
    static byte[] BigVersionCall(uint q, int bytes)
    {
        using var m = new MessageBuilder();
        CallBuilder c = RpcMessageBuilder.InitRoot(m).InitCall();
        c.QuestionId = q;
        c.InterfaceId = Conmon.InterfaceId;
        c.InitTarget().InitPromisedAnswer().InitTransform(0);
        TextTextMapEntryBuilder e = VersionParamsBuilder.Init(c.InitParams().Content).InitRequest().InitMetadata(1)[0];
        e.SetKey("padding");
        e.SetValue(new string('x', bytes));
        return m.Frame.ToArray();
    }
}
