using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Podmon.IntegrationTests.Containers.Fixtures;

namespace Podmon.IntegrationTests.Rpc;

/// <summary>
/// A conmon-rs v0.7.x client (what CRI-O up to 1.36 links: metadataOld is Data, later pointers one
/// slot higher) and v1.0 clients on the same server, with real runc containers. The runtime is a
/// wrapper that records the environment each runc call got: envVars go to the runtime, as in
/// conmon-rs, so that is where a misread slot shows.
/// </summary>
public class V073ClientTests(RuncFixture fx) : IClassFixture<RuncFixture>
{
    sealed class Env
    {
        public readonly string Runtime, Log;

        public Env(RuncFixture fx)
        {
            string tag = Guid.NewGuid().ToString("N");
            Runtime = Path.Combine(fx.Root, $"runtime-{tag}.sh");
            Log = Path.Combine(fx.Root, $"runtime-{tag}.env");
            // One line per runc call: its arguments, then every PMT_ variable it was given.
            File.WriteAllText(Runtime, $"#!/bin/sh\necho \"$* :: $(env | grep '^PMT_' | sort | tr '\\n' ' ')\" >> {Log}\nexec {RuncFixture.Runc} \"$@\"\n");
            File.SetUnixFileMode(Runtime, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        /// <summary>The environment of the one runc call whose arguments contain <paramref name="marker"/>.</summary>
        public string Of(string marker) =>
            Assert.Single(File.ReadAllLines(Log), l => l.Split(" :: ")[0].Contains(marker)).Split(" :: ")[1];
    }

    RpcTestServer Server(Env env) => new(env.Runtime, "--runtime-root", fx.StateDir, "--cgroup-manager", "cgroupfs");

    string Temp(string name) => Path.Combine(fx.Root, $"{name}-{Guid.NewGuid():N}");

    static JsonElement Ok(ConmonRpc.Result r)
    {
        Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}: {r.Stdout}{r.Stderr}");
        return r.Json;
    }

    static string[] Meta(bool meta) => meta ? ["--meta", "PMT_META=from-metadata", "--meta", "traceparent=00-1-2-01"] : [];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void CreateAndExecSyncReadEveryFieldFromItsSlot(bool meta)
    {
        var env = new Env(fx);
        using var s = Server(env);
        Assert.Equal(s.Pid, Ok(ConmonRpc.RunV073(s.Socket, ["version", "--verbose", .. Meta(meta)])).GetProperty("processId").GetInt32());

        string id = fx.NewId("v07"), log = Temp("log"), exit = Temp("exit");
        JsonElement created = Ok(ConmonRpc.RunV073(s.Socket, ["create", "--id", id, "--bundle", fx.Bundle(id, ["sh", "-c", "echo up; sleep 1000"]),
            "--exit-path", exit, "--log-driver", $"cri:{log}", "--cgroup-manager", "cgroupfs",
            "--env", "PMT_A=1", "--env", "PMT_B=two words", .. Meta(meta)]));
        Assert.True(created.GetProperty("containerPid").GetInt32() > 0);
        Assert.Equal("PMT_A=1 PMT_B=two words ", env.Of(" create "));
        fx.Start(id);
        Assert.True(PodmonProcess.WaitUntil(() => File.Exists(log) && File.ReadAllText(log).Contains(" stdout F up\n"), 10_000));

        JsonElement r = Ok(ConmonRpc.RunV073(s.Socket, ["exec-sync", "--id", id, "--timeout", "20", "--env", "PMT_E=exec",
            .. Meta(meta), "--", "sh", "-c", "echo out-v07; echo err >&2; exit 3"]));
        Assert.Equal(3, r.GetProperty("exitCode").GetInt32());
        Assert.Equal("out-v07\n", r.GetProperty("stdoutUtf8").GetString());
        Assert.Equal("err\n", r.GetProperty("stderrUtf8").GetString());
        Assert.Equal("PMT_E=exec ", env.Of("out-v07"));
        Assert.False(File.Exists(exit));
    }

    [Fact]
    public void AttachReopenAndResizeFromAV073Client()
    {
        var env = new Env(fx);
        using var s = Server(env);
        string id = fx.NewId("v07t"), log = Temp("log"), sock = Temp("attach");
        Ok(ConmonRpc.RunV073(s.Socket, ["create", "--id", id, "--bundle", fx.Bundle(id, ["sh", "-c", "while true; do stty size; sleep 0.1; done"], terminal: true),
            "--terminal", "--log-driver", $"cri:{log}", .. Meta(true)]));
        fx.Start(id);

        Ok(ConmonRpc.RunV073(s.Socket, ["set-window-size", "--id", id, "--width", "123", "--height", "45", .. Meta(true)]));
        Assert.True(PodmonProcess.WaitUntil(() => File.Exists(log) && File.ReadAllText(log).Contains(" stdout F 45 123\r"), 10_000));

        File.Move(log, log + ".1");
        Ok(ConmonRpc.RunV073(s.Socket, ["reopen-log", "--id", id, .. Meta(true)]));
        Assert.True(PodmonProcess.WaitUntil(() => File.Exists(log) && File.ReadAllText(log).Contains(" stdout F 45 123\r"), 10_000));

        Ok(ConmonRpc.RunV073(s.Socket, ["attach", "--id", id, "--socket-path", sock, .. Meta(true)]));
        using var client = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
        client.Connect(new UnixDomainSocketEndPoint(sock));
        client.ReceiveTimeout = 20_000;
        var stdout = new StringBuilder();
        byte[] buf = new byte[65536];
        while (!stdout.ToString().Contains("45 123"))
        {
            int n = client.Receive(buf);
            Assert.True(n > 0, "attach socket closed early");
            if (buf[0] == 2) stdout.Append(Encoding.UTF8.GetString(buf, 1, n - 1));
        }

        var missing = ConmonRpc.RunV073(s.Socket, "reopen-log", "--id", "nope");
        Assert.Equal("container nope not found", missing.Json.GetProperty("error").GetString());
    }

    [Fact]
    public void BothGenerationsOnOneServerAtTheSameTime()
    {
        var env = new Env(fx);
        using var s = Server(env);
        string id = fx.NewId("mix");
        Ok(ConmonRpc.Run(s.Socket, "create", "--id", id, "--bundle", fx.Bundle(id, ["sleep", "1000"]), "--env", "PMT_BY=v10"));
        Assert.Equal("PMT_BY=v10 ", env.Of(" create "));
        fx.Start(id);

        const int calls = 16;
        var results = new ConmonRpc.Result[calls];
        Parallel.For(0, calls, new ParallelOptions { MaxDegreeOfParallelism = calls }, i =>
        {
            string[] args = ["exec-sync", "--id", id, "--env", $"PMT_I={i}", .. Meta(i % 4 == 1), "--", "sh", "-c", $"echo call-{i}-end"];
            results[i] = i % 2 == 0 ? ConmonRpc.Run(s.Socket, args) : ConmonRpc.RunV073(s.Socket, args);
        });
        for (int i = 0; i < calls; i++)
        {
            Assert.Equal($"call-{i}-end\n", Ok(results[i]).GetProperty("stdoutUtf8").GetString());
            Assert.Equal($"PMT_I={i} ", env.Of($"call-{i}-end"));
        }
        Assert.Equal(s.Pid, Ok(ConmonRpc.Run(s.Socket, "version")).GetProperty("processId").GetInt32());
        Assert.Equal(s.Pid, Ok(ConmonRpc.RunV073(s.Socket, "version")).GetProperty("processId").GetInt32());
    }
}
