using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Podmon.Sys;
using Podmon.IntegrationTests.Containers.Fixtures;

namespace Podmon.IntegrationTests.Rpc;

/// <summary>
/// Methods 1–5 through the reference C++ client against the published binary, with real runc
/// containers: what CRI-O sees.
/// </summary>
public class ContainerRpcTests(RuncFixture fx) : IClassFixture<RuncFixture>
{
    RpcTestServer Server(PodmonProcess.RuntimeDir? dir = null) =>
        new(dir ?? new PodmonProcess.RuntimeDir(), RuncFixture.Runc, "--runtime-root", fx.StateDir, "--cgroup-manager", "cgroupfs");

    string Temp(string name) => Path.Combine(fx.Root, $"{name}-{Guid.NewGuid():N}");

    static JsonElement Ok(ConmonRpc.Result r)
    {
        Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}: {r.Stdout}{r.Stderr}");
        return r.Json;
    }

    /// <summary>createContainer; returns the container pid.</summary>
    int Create(RpcTestServer s, string id, string[] args, bool terminal = false, long memoryLimit = 0, params string[] extra)
    {
        string bundle = fx.Bundle(id, args, terminal, memoryLimit);
        var r = ConmonRpc.Run(s.Socket, ["create", "--id", id, "--bundle", bundle, .. (terminal ? new[] { "--terminal" } : []), .. extra]);
        int pid = Ok(r).GetProperty("containerPid").GetInt32();
        Assert.True(pid > 0);
        return pid;
    }

    /// <summary>The file's content once it has some (a shell's `echo x > f` creates it empty first).</summary>
    static string WaitFile(string path, int timeoutMs = 20_000)
    {
        Assert.True(PodmonProcess.WaitUntil(() => File.Exists(path) && new FileInfo(path).Length > 0, timeoutMs), $"{path} never appeared (or stayed empty)");
        return File.ReadAllText(path);
    }

    [Theory]
    [InlineData("exit 0", "0")]
    [InlineData("exit 3", "3")]
    [InlineData("exit 255", "255")]
    public void ExitCodeReachesEveryExitFile(string script, string expected)
    {
        using var s = Server();
        string id = fx.NewId();
        string exit1 = Temp("exit"), exit2 = Temp("exit");
        Create(s, id, ["sh", "-c", script], extra: ["--exit-path", exit1, "--exit-path", exit2]);
        fx.Start(id);
        Assert.Equal(expected, WaitFile(exit1));
        Assert.Equal(expected, WaitFile(exit2));
        Assert.DoesNotContain(Directory.GetFiles(fx.Root, Path.GetFileName(exit1) + "*"), f => f != exit1); // no temp file left
    }

    [Fact]
    public void SigkillFromOutsideIs137AndCleanupCommandRuns()
    {
        using var s = Server();
        string id = fx.NewId();
        string exit = Temp("exit"), cleaned = Temp("cleanup");
        int pid = Create(s, id, ["sleep", "1000"], extra: ["--exit-path", exit,
            "--cleanup-cmd", "/bin/sh", "--cleanup-cmd", "-c", "--cleanup-cmd", $"echo cleaned > {cleaned}"]);
        fx.Start(id);
        Errno.Check(Libc.kill(pid, Libc.SIGKILL), "kill");
        Assert.Equal("137", WaitFile(exit));
        Assert.Equal("cleaned\n", WaitFile(cleaned));
    }

    [Fact]
    public void RuntimeFailureReturnsRuncsMessage()
    {
        using var s = Server();
        string id = fx.NewId();
        var r = ConmonRpc.Run(s.Socket, "create", "--id", id, "--bundle", fx.Bundle(id, ["/nonexistent/cmd"]));
        Assert.Equal(1, r.ExitCode);
        string error = r.Json.GetProperty("error").GetString()!;
        Assert.Contains("/nonexistent/cmd", error);
        Assert.Contains("no such file or directory", error);
        Assert.Equal("failed", r.Json.GetProperty("type").GetString());
        Assert.True(s.Alive);
        var dup = ConmonRpc.Run(s.Socket, "create", "--id", "", "--bundle", "/nonexistent-bundle");
        Assert.Equal(1, dup.ExitCode);
    }

    [Fact]
    public void TerminalContainerUnderAVeryLongRuntimeDir()
    {
        using var s = Server(new PodmonProcess.RuntimeDir(minLength: 200));
        // The C++ client cannot connect to a path over 108 bytes; a short link to the directory can.
        string shortDir = Temp("rd");
        File.CreateSymbolicLink(shortDir, s.Dir.Path);
        string socket = Path.Combine(shortDir, "conmon.sock");
        string id = fx.NewId("tty");
        string log = Temp("log"), exit = Temp("exit");
        Ok(ConmonRpc.Run(socket, "create", "--id", id, "--bundle", fx.Bundle(id, ["sh", "-c", "echo hello from a tty; exit 4"], terminal: true),
            "--terminal", "--exit-path", exit, "--log-driver", $"cri:{log}"));
        fx.Start(id);
        Assert.Equal("4", WaitFile(exit));
        Assert.Matches(@"^\S+ stdout F hello from a tty\r$", File.ReadAllText(log).Split('\n')[0]);
    }

    /// <summary>Rebuilds both streams from a CRI log: F ends a line, P continues it.</summary>
    static (string Stdout, string Stderr) Reassemble(string log)
    {
        var streams = new Dictionary<string, StringBuilder> { ["stdout"] = new(), ["stderr"] = new() };
        foreach (string line in File.ReadAllText(log).Split('\n'))
        {
            if (line.Length == 0) continue;
            string[] f = line.Split(' ', 4);
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d)$", f[0]);
            Assert.Contains(f[2], new[] { "F", "P" });
            streams[f[1]].Append(f[3]);
            if (f[2] == "F") streams[f[1]].Append('\n');
        }
        return (streams["stdout"].ToString(), streams["stderr"].ToString());
    }

    [Fact]
    public void CriLogIsByteExactForFiftyMegabytesOfMixedLines()
    {
        using var s = Server();
        string id = fx.NewId("log");
        string log = Temp("log"), exit = Temp("exit");
        // ~50 MB: short and 100-byte lines on stdout, a 300 kB line, lines on stderr, a final partial line.
        string script = "yes 0123456789 | head -c 20000000; yes " + new string('x', 99) + " | head -c 30000000; " +
                        "head -c 300000 /dev/zero | tr '\\0' y; echo; echo to-stderr >&2; printf tail-without-newline";
        Create(s, id, ["sh", "-c", script], extra: ["--exit-path", exit, "--log-driver", $"cri:{log}"]);
        fx.Start(id);
        Assert.Equal("0", WaitFile(exit, 120_000));
        var (stdout, stderr) = Reassemble(log);
        var expected = new StringBuilder();
        for (int i = 0; i < 20000000 / 11; i++) expected.Append("0123456789\n");
        expected.Append("0123456789\n", 0, 20000000 % 11);
        string hundred = new string('x', 99) + "\n";
        string head = expected.ToString();
        Assert.Equal(20000000, head.Length);
        var rest = new StringBuilder(30_400_000);
        for (int i = 0; i < 30000000 / 100; i++) rest.Append(hundred);
        rest.Append('y', 300000).Append('\n').Append("tail-without-newline");
        // The last partial line is logged as P: reassembly adds no newline after it.
        Assert.True(stdout.Length == head.Length + rest.Length, $"stdout length {stdout.Length}");
        Assert.True(stdout.AsSpan(0, head.Length).SequenceEqual(head), "first 20 MB differ");
        Assert.True(stdout.AsSpan(head.Length).SequenceEqual(rest.ToString()), "last 30 MB differ");
        Assert.Equal("to-stderr\n", stderr);
        Assert.Contains(" stdout P tail-without-newline\n", File.ReadAllText(log)[^300..]);
    }

    [Fact]
    public void ReopenAfterMovingTheLogLosesNothing()
    {
        using var s = Server();
        string id = fx.NewId("rot");
        string log = Temp("log"), exit = Temp("exit"), go = Temp("go");
        Directory.CreateDirectory(go);
        // Writes 1..N, waits for the signal file, writes N+1..2N.
        string script = "seq 1 500; while [ ! -e /go/now ]; do sleep 0.05; done; seq 501 1000";
        string bundle = fx.Bundle(id, ["sh", "-c", script]);
        AddBindMount(bundle, go, "/go");
        Ok(ConmonRpc.Run(s.Socket, "create", "--id", id, "--bundle", bundle, "--exit-path", exit, "--log-driver", $"cri:{log}"));
        fx.Start(id);
        Assert.True(PodmonProcess.WaitUntil(() => File.Exists(log) && File.ReadAllText(log).Contains(" 500\n")));
        File.Move(log, log + ".1");
        Ok(ConmonRpc.Run(s.Socket, "reopen-log", "--id", id));
        File.WriteAllText(Path.Combine(go, "now"), "");
        Assert.Equal("0", WaitFile(exit));
        string all = Reassemble(log + ".1").Stdout + Reassemble(log).Stdout;
        Assert.Equal(string.Concat(Enumerable.Range(1, 1000).Select(i => $"{i}\n")), all);
        Assert.StartsWith("501\n", Reassemble(log).Stdout);
    }

    static void AddBindMount(string bundle, string source, string target)
    {
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(bundle, "config.json")))!;
        config["mounts"]!.AsArray().Add(new System.Text.Json.Nodes.JsonObject
        {
            ["destination"] = target, ["type"] = "bind", ["source"] = source,
            ["options"] = new System.Text.Json.Nodes.JsonArray("rbind", "rw"),
        });
        File.WriteAllText(Path.Combine(bundle, "config.json"), config.ToJsonString());
    }

    [Fact]
    public void MaxSizeIsAHardLimit()
    {
        using var s = Server();
        string id = fx.NewId("max");
        string log = Temp("log"), exit = Temp("exit");
        long largest = 0;
        Create(s, id, ["sh", "-c", "seq 1 20000"], extra: ["--exit-path", exit, "--log-driver", $"cri:{log}:4096"]);
        fx.Start(id);
        while (!File.Exists(exit))
        {
            if (File.Exists(log)) largest = Math.Max(largest, new FileInfo(log).Length);
            Thread.Sleep(1);
        }
        largest = Math.Max(largest, new FileInfo(log).Length);
        Assert.True(largest <= 4096, $"log reached {largest} bytes");
        Assert.EndsWith(" stdout F 20000\n", File.ReadAllText(log)); // the newest lines are kept
    }

    [Fact]
    public void ExecSyncExitCodeOutputAndTimeout()
    {
        using var s = Server();
        string id = fx.NewId("ex");
        Create(s, id, ["sleep", "1000"]);
        fx.Start(id);
        JsonElement r = Ok(ConmonRpc.Run(s.Socket, "exec-sync", "--id", id, "--", "sh", "-c", "echo out; echo err >&2; exit 7"));
        Assert.Equal(7, r.GetProperty("exitCode").GetInt32());
        Assert.Equal("out\n", r.GetProperty("stdoutUtf8").GetString());
        Assert.Equal("err\n", r.GetProperty("stderrUtf8").GetString());
        Assert.False(r.GetProperty("timedOut").GetBoolean());

        var sw = Stopwatch.StartNew();
        JsonElement t = Ok(ConmonRpc.Run(s.Socket, "exec-sync", "--id", id, "--timeout", "1", "--", "sleep", "30"));
        Assert.True(t.GetProperty("timedOut").GetBoolean());
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20));
        Assert.Contains("\"running\"", fx.State(id)); // the container stays up
        JsonElement after = Ok(ConmonRpc.Run(s.Socket, "exec-sync", "--id", id, "--", "true"));
        Assert.Equal(0, after.GetProperty("exitCode").GetInt32());
    }

    [Fact]
    public void ExecSyncInAnUnknownContainerSaysWhy()
    {
        using var s = Server();
        JsonElement r = Ok(ConmonRpc.Run(s.Socket, "exec-sync", "--id", "no-such-container", "--", "true"));
        Assert.Equal(-2, r.GetProperty("exitCode").GetInt32()); // conmon-rs's answer when nothing ran
        Assert.Contains("no-such-container", r.GetProperty("stderrUtf8").GetString());
    }

    [Fact]
    public void HundredConcurrentExecSyncs()
    {
        using var s = Server();
        string id = fx.NewId("many");
        Create(s, id, ["sleep", "1000"]);
        fx.Start(id);
        var results = new ConmonRpc.Result[100];
        Parallel.For(0, 100, new ParallelOptions { MaxDegreeOfParallelism = 100 }, i =>
            results[i] = ConmonRpc.RunTool("conmon-rpc", [s.Socket, "exec-sync", "--id", id, "--", "sh", "-c", $"echo {i}; exit {i % 7}"], 120_000));
        for (int i = 0; i < 100; i++)
        {
            JsonElement r = Ok(results[i]);
            Assert.Equal(i % 7, r.GetProperty("exitCode").GetInt32());
            Assert.Equal($"{i}\n", r.GetProperty("stdoutUtf8").GetString());
        }
        Assert.Equal(2, s.Threads);
    }

    [Fact]
    public void AttachStreamsStdoutStderrAndStdin()
    {
        using var s = Server();
        string id = fx.NewId("att");
        // CRI-O asks for <sandbox userdata>/<ctr id>/attach before that directory exists: it is made, like conmon-rs makes it.
        string exit = Temp("exit"), sock = Path.Combine(Temp("userdata"), id, "attach");
        // Echo stdin back on stdout and, tagged, on stderr, until stdin ends.
        Create(s, id, ["sh", "-c", "while read l; do echo \"out:$l\"; echo \"err:$l\" >&2; done; exit 5"],
            extra: ["--stdin", "--exit-path", exit]);
        Ok(ConmonRpc.Run(s.Socket, "attach", "--id", id, "--socket-path", sock, "--stop-after-stdin-eof"));
        Assert.True(Directory.Exists(Path.GetDirectoryName(sock)));
        using var client = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
        client.Connect(new UnixDomainSocketEndPoint(sock));
        client.ReceiveTimeout = 20_000;
        fx.Start(id);
        client.Send("hello\n"u8);
        var got = new Dictionary<byte, StringBuilder> { [2] = new(), [3] = new() };
        byte[] buf = new byte[65536];
        while (!(got[2].ToString().Contains("out:hello\n") && got[3].ToString().Contains("err:hello\n")))
        {
            int n = client.Receive(buf);
            Assert.True(n > 0, "attach socket closed early");
            if (buf[0] is 2 or 3) got[buf[0]].Append(Encoding.UTF8.GetString(buf, 1, n - 1));
        }
        client.Shutdown(SocketShutdown.Send); // stdin EOF: the container's stdin is closed
        Assert.Equal("5", WaitFile(exit));
    }

    [Fact]
    public void WindowSizeOfATerminalAndErrorsWithout()
    {
        using var s = Server();
        string id = fx.NewId("win");
        string log = Temp("log");
        Create(s, id, ["sh", "-c", "while true; do stty size; sleep 0.1; done"], terminal: true, extra: ["--log-driver", $"cri:{log}"]);
        fx.Start(id);
        Ok(ConmonRpc.Run(s.Socket, "set-window-size", "--id", id, "--width", "123", "--height", "45"));
        Assert.True(PodmonProcess.WaitUntil(() => File.Exists(log) && File.ReadAllText(log).Contains(" stdout F 45 123\r"), 10_000));

        string plain = fx.NewId("win");
        Create(s, plain, ["sleep", "1000"]);
        var e = ConmonRpc.Run(s.Socket, "set-window-size", "--id", plain, "--width", "1", "--height", "1");
        Assert.Equal(1, e.ExitCode);
        Assert.Contains("no terminal", e.Json.GetProperty("error").GetString());
        var missing = ConmonRpc.Run(s.Socket, "reopen-log", "--id", "nope");
        Assert.Equal("container nope not found", missing.Json.GetProperty("error").GetString());
    }

    [Fact]
    public void OomFileForATinyMemoryLimit()
    {
        using var s = Server();
        string id = fx.NewId("oom");
        string oom = Temp("oom"), exit = Temp("exit");
        Create(s, id, ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"], memoryLimit: 8 << 20,
            extra: ["--oom-exit-path", oom, "--exit-path", exit]);
        fx.Start(id);
        Assert.Equal("137", WaitFile(exit));
        Assert.True(File.Exists(oom), "no OOM file");
    }

    [Fact]
    public void SigkilledServerTakesItsContainersWithIt()
    {
        var s = Server();
        try
        {
            string a = fx.NewId("die"), b = fx.NewId("die");
            int pa = Create(s, a, ["sleep", "1000"]);
            int pb = Create(s, b, ["sleep", "1000"]);
            fx.Start(a);
            Assert.True(PodmonProcess.IsAlive(pa) && PodmonProcess.IsAlive(pb));
            Errno.Check(Libc.kill(s.Pid, Libc.SIGKILL), "kill");
            Assert.True(PodmonProcess.WaitUntil(() => !PodmonProcess.IsAlive(pa) && !PodmonProcess.IsAlive(pb), 10_000),
                "containers outlived their SIGKILLed server");
        }
        finally { s.Dispose(); }
    }
}
