using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Podmon.IntegrationTests.Containers.Fixtures;
using Podmon.IntegrationTests.Rpc;

namespace Podmon.IntegrationTests.Loop;

/// <summary>
/// Every listener of the published server at its fd limit (RLIMIT_NOFILE set with prlimit): a client
/// waiting in the backlog must not make the loop spin, gets one warning per episode, and is
/// accepted once descriptors are free. The RPC socket's case is in RpcFaultTests.
/// </summary>
public class AcceptorTests(RuncFixture fx) : IClassFixture<RuncFixture>
{
    sealed class ForegroundServer : IDisposable
    {
        public readonly PodmonProcess.RuntimeDir Dir = new();
        public readonly Process P;
        public readonly ConcurrentQueue<string> Log = new();

        public ForegroundServer(RuncFixture fx)
        {
            P = PodmonProcess.Start(["--runtime", RuncFixture.Runc, "--runtime-dir", Dir.Path, "--runtime-root", fx.StateDir,
                "--cgroup-manager", "cgroupfs", "--log-driver", "stdout", "--log-level", "info", "--skip-fork"]);
            new Thread(() => { while (P.StandardOutput.ReadLine() is string l) Log.Enqueue(l); }) { IsBackground = true }.Start();
            Assert.True(PodmonProcess.WaitUntil(() => File.Exists(Dir.Socket) && Dir.ServerPid == P.Id, 10_000), "server did not start");
        }

        public JsonElement Rpc(params string[] args)
        {
            var r = ConmonRpc.Run(Dir.Socket, args);
            Assert.True(r.ExitCode == 0, $"{string.Join(' ', args)}: {r.Stdout}{r.Stderr}");
            return r.Json;
        }

        /// <summary>
        /// No descriptor to spare: a new fd takes the lowest free number, so a soft limit at that
        /// number makes the next accept4 fail with EMFILE while every open fd stays usable.
        /// </summary>
        public void Exhaust()
        {
            var open = Directory.GetFiles($"/proc/{P.Id}/fd").Select(f => int.Parse(Path.GetFileName(f))).ToHashSet();
            int lowestFree = 0;
            while (open.Contains(lowestFree)) lowestFree++;
            Prlimit(lowestFree);
        }

        /// <summary>The soft limit only: raising a hard limit needs CAP_SYS_RESOURCE.</summary>
        public void Prlimit(int n) => Host.Check("/usr/bin/prlimit", "--pid", P.Id.ToString(), $"--nofile={n}:");

        public long CpuTicks() => PodmonProcess.CpuTicks(P.Id);

        public string Lines => string.Join('\n', Log);

        public void Dispose()
        {
            if (!P.HasExited) P.Kill();
            P.WaitForExit();
            Dir.Dispose();
        }
    }

    /// <summary>At the limit with a client waiting: one warning, no CPU, then recovery once fds are free.</summary>
    static void QuietAtTheLimitThenRecovers(ForegroundServer s, string name, Action connectWhileExhausted, Action servedAfterwards)
    {
        s.Exhaust();
        connectWhileExhausted();
        Assert.True(PodmonProcess.WaitUntil(() => s.Log.Any(l => l.Contains($"accept4 on {name}") && l.Contains("(EMFILE)")), 10_000), s.Lines);
        long before = s.CpuTicks();
        Thread.Sleep(2000);
        long used = s.CpuTicks() - before;
        Assert.True(used < 50, $"{used} ticks (1/100 s) of CPU in 2 s at the fd limit:\n{s.Lines}");
        Assert.Single(s.Log, l => l.Contains($"accept4 on {name}"));
        s.Prlimit(1024);
        servedAfterwards();
        Assert.True(PodmonProcess.WaitUntil(() => s.Log.Any(l => l.Contains($"accepting clients on {name} again")), 10_000), s.Lines);
    }

    [Fact]
    public void AttachSocketWaitsQuietlyAtTheFdLimit()
    {
        using var s = new ForegroundServer(fx);
        string id = fx.NewId("acc");
        string bundle = fx.Bundle(id, ["sh", "-c", "while read l; do echo got:$l; done"]);
        s.Rpc("create", "--id", id, "--bundle", bundle, "--stdin");
        string path = Path.Combine(fx.Root, $"attach-{Guid.NewGuid():N}");
        s.Rpc("attach", "--id", id, "--socket-path", path);
        fx.Start(id);
        using var client = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified) { ReceiveTimeout = 10_000 };
        QuietAtTheLimitThenRecovers(s, path,
            () => client.Connect(new UnixDomainSocketEndPoint(path)),
            () =>
            {
                client.Send("in-at-limit\n"u8);
                var got = new StringBuilder();
                byte[] buf = new byte[8192];
                while (!got.ToString().Contains("got:in-at-limit"))
                {
                    int n = client.Receive(buf);
                    Assert.True(n > 0, "attach socket closed");
                    got.Append(Encoding.UTF8.GetString(buf, 1, n - 1));
                }
            });
    }

    [Fact]
    public void StreamingServerWaitsQuietlyAtTheFdLimit()
    {
        using var s = new ForegroundServer(fx);
        string id = fx.NewId("acc");
        s.Rpc("create", "--id", id, "--bundle", fx.Bundle(id, ["sleep", "1000"]));
        fx.Start(id);
        var url = new Uri(s.Rpc("serve-exec", "--id", id, "--stdout", "--", "true").GetProperty("url").GetString()!);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 10_000 };
        QuietAtTheLimitThenRecovers(s, $"the streaming server (127.0.0.1:{url.Port})",
            () => client.Connect(new IPEndPoint(IPAddress.Loopback, url.Port)),
            () =>
            {
                client.Send(Encoding.ASCII.GetBytes($"GET /no-such-path HTTP/1.1\r\nHost: {url.Authority}\r\n\r\n"));
                byte[] buf = new byte[4096];
                int n = client.Receive(buf);
                Assert.StartsWith("HTTP/1.1 404", Encoding.ASCII.GetString(buf, 0, n));
            });
    }
}
