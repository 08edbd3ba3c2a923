using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Podmon.Sys;
using Podmon.IntegrationTests.Containers.Fixtures;

namespace Podmon.IntegrationTests.Rpc;

/// <summary>
/// What the conmon-rs Go client relies on across its own restarts and at shutdown: it adopts a
/// running server through `version` on the existing socket and goes on using the containers made
/// over earlier connections; it stops the server with SIGINT and then polls for 10 s until it is gone.
/// Every conmon-rpc run is a new connection.
/// </summary>
public class ServerLifecycleTests(RuncFixture fx) : IClassFixture<RuncFixture>
{
    string Temp(string name) => Path.Combine(fx.Root, $"{name}-{Guid.NewGuid():N}");

    static JsonElement Ok(ConmonRpc.Result r)
    {
        Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}: {r.Stdout}{r.Stderr}");
        return r.Json;
    }

    [Fact]
    public void ARestartedClientAdoptsTheServerAndItsContainers()
    {
        using var s = new RpcTestServer(RuncFixture.Runc, "--runtime-root", fx.StateDir, "--cgroup-manager", "cgroupfs");
        // Before the restart: an older CRI-O (v0.7 client) made the container.
        string id = fx.NewId("adopt"), log = Temp("log"), exit = Temp("exit"), sock = Temp("attach");
        Ok(ConmonRpc.RunV073(s.Socket, "create", "--id", id, "--terminal", "--exit-path", exit, "--log-driver", $"cri:{log}",
            "--bundle", fx.Bundle(id, ["sh", "-c", "while true; do stty size; sleep 0.1; done"], terminal: true)));
        fx.Start(id);

        // The restarted client (here a v1.0 one) finds the socket, asks the version, keeps the server.
        Assert.Equal(s.Pid, Ok(ConmonRpc.Run(s.Socket, "version")).GetProperty("processId").GetInt32());
        Assert.Equal(s.Pid, s.Dir.ServerPid);
        Assert.True(s.Alive);

        JsonElement r = Ok(ConmonRpc.Run(s.Socket, "exec-sync", "--id", id, "--", "sh", "-c", "echo adopted"));
        Assert.Equal("adopted\n", r.GetProperty("stdoutUtf8").GetString());
        Ok(ConmonRpc.Run(s.Socket, "set-window-size", "--id", id, "--width", "77", "--height", "11"));
        Assert.True(PodmonProcess.WaitUntil(() => File.ReadAllText(log).Contains(" stdout F 11 77\r"), 10_000));
        File.Move(log, log + ".1");
        Ok(ConmonRpc.Run(s.Socket, "reopen-log", "--id", id));
        Assert.True(PodmonProcess.WaitUntil(() => File.Exists(log) && File.ReadAllText(log).Contains(" stdout F 11 77\r"), 10_000));
        Ok(ConmonRpc.Run(s.Socket, "attach", "--id", id, "--socket-path", sock));
        using (var client = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified))
        {
            client.Connect(new UnixDomainSocketEndPoint(sock));
            client.ReceiveTimeout = 20_000;
            var stdout = new StringBuilder();
            byte[] buf = new byte[65536];
            while (!stdout.ToString().Contains("11 77"))
            {
                int n = client.Receive(buf);
                Assert.True(n > 0, "attach socket closed early");
                if (buf[0] == 2) stdout.Append(Encoding.UTF8.GetString(buf, 1, n - 1));
            }
        }
        Assert.False(File.Exists(exit)); // still the same running container
    }

    [Fact]
    public void SigintKillsContainersRemovesSocketsAndExitsZero()
    {
        using var dir = new PodmonProcess.RuntimeDir();
        using Process p = PodmonProcess.Start(["--runtime", RuncFixture.Runc, "--runtime-dir", dir.Path, "--runtime-root", fx.StateDir,
            "--cgroup-manager", "cgroupfs", "--log-driver", "none", "--skip-fork"]);
        try
        {
            Assert.True(PodmonProcess.WaitUntil(() => dir.ServerPid == p.Id, 10_000), "server never listened");
            // Stands in for startFdSocket's socket (another branch): shutdown removes it with conmon.sock.
            string fdSocket = Path.Combine(dir.Path, "conmon-fd.sock");
            File.WriteAllText(fdSocket, "");

            var containers = new List<(int Pid, string Exit)>();
            foreach (bool terminal in new[] { false, true })
            {
                string id = fx.NewId("sigint"), exit = Temp("exit");
                int pid = Ok(ConmonRpc.Run(dir.Socket, ["create", "--id", id, "--bundle", fx.Bundle(id, ["sleep", "1000"], terminal),
                    "--exit-path", exit, .. (terminal ? new[] { "--terminal" } : [])])).GetProperty("containerPid").GetInt32();
                fx.Start(id);
                containers.Add((pid, exit));
            }
            Assert.All(containers, c => Assert.True(PodmonProcess.IsAlive(c.Pid)));

            Errno.Check(Libc.kill(p.Id, Libc.SIGINT), "kill");
            Assert.True(p.WaitForExit(10_000), "server still there 10 s after SIGINT (the Go client's patience)");
            Assert.Equal(0, p.ExitCode);
            Assert.False(File.Exists(dir.Socket), "conmon.sock left behind");
            Assert.False(File.Exists(fdSocket), "conmon-fd.sock left behind");
            foreach ((int pid, string exit) in containers)
            {
                Assert.True(File.Exists(exit), $"{exit} not written before the server exited");
                Assert.Equal("137", File.ReadAllText(exit));
                Assert.True(PodmonProcess.WaitUntil(() => !PodmonProcess.IsAlive(pid)), $"container {pid} survived");
            }
        }
        finally
        {
            if (!p.HasExited) p.Kill();
        }
    }
}
