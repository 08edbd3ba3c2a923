using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Podmon.IntegrationTests.Containers.Fixtures;
using Podmon.IntegrationTests.Rpc;
using static Podmon.IntegrationTests.Streaming.StreamingClient;

namespace Podmon.IntegrationTests.Streaming;

/// <summary>
/// serveExec/serveAttach/servePortForward end to end: the URL from the reference C++ client,
/// real runc containers, and real WebSocket clients (python3-websockets, python3-kubernetes).
/// One server and one sleeping container are shared by the exec tests.
/// </summary>
public class StreamingTests(RuncFixture fx) : IClassFixture<RuncFixture>
{
    static readonly string[] V5 = ["v5.channel.k8s.io"], V4 = ["v4.channel.k8s.io"];

    RpcTestServer Server() => new(new PodmonProcess.RuntimeDir(), RuncFixture.Runc, "--runtime-root", fx.StateDir, "--cgroup-manager", "cgroupfs");

    string Temp(string name) => Path.Combine(fx.Root, $"{name}-{Guid.NewGuid():N}");

    /// <summary>Creates and starts a container; returns its pid.</summary>
    int Run(RpcTestServer s, string id, string[] args, bool terminal = false, params string[] extra)
    {
        var r = ConmonRpc.Run(s.Socket, ["create", "--id", id, "--bundle", fx.Bundle(id, args, terminal), .. (terminal ? new[] { "--terminal" } : []), .. extra]);
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        fx.Start(id);
        return r.Json.GetProperty("containerPid").GetInt32();
    }

    static string Url(RpcTestServer s, params string[] args)
    {
        var r = ConmonRpc.Run(s.Socket, args);
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        string url = r.Json.GetProperty("url").GetString()!;
        Assert.Matches(@"^http://127\.0\.0\.1:\d+/(exec|attach|port-forward)/[0-9a-f]{32}$", url);
        return url;
    }

    static JsonElement Status(JsonElement result) => JsonDocument.Parse(result.Channel(3)).RootElement;

    static void AssertSuccess(JsonElement result)
    {
        Assert.Equal("Success", Status(result).GetProperty("status").GetString());
        Assert.Equal(1000, result.GetProperty("close_code").GetInt32());
    }

    [Fact]
    public void ExecWithoutTtySplitsStreamsWithV5AndV4()
    {
        using var s = Server();
        string id = fx.NewId("ex");
        Run(s, id, ["sleep", "1000"]);
        foreach (string[] protocol in new[] { V5, V4 })
        {
            var r = WebSocket(Url(s, "serve-exec", "--id", id, "--stdout", "--stderr", "--", "sh", "-c", "echo -n stdout; echo -n stderr >&2"), protocol);
            Assert.Equal(protocol[0], r.GetProperty("protocol").GetString());
            Assert.Equal("stdout", r.Channel(1));
            Assert.Equal("stderr", r.Channel(2));
            AssertSuccess(r);
        }
    }

    [Fact]
    public void OlderProtocolsAndTheBase64FlavourWork()
    {
        using var s = Server();
        string id = fx.NewId("b64");
        Run(s, id, ["sleep", "1000"]);
        int threads = s.Threads;
        string script = "read x; echo -n out-$x; echo -n err-$x >&2; exit 2";
        foreach (string protocol in new[] { "base64.channel.k8s.io", "v4.base64.channel.k8s.io", "channel.k8s.io" })
        {
            var r = WebSocket(Url(s, "serve-exec", "--id", id, "--stdin", "--stdout", "--stderr", "--", "sh", "-c", script), [protocol], Send(0, "\u00ff\n"));
            Assert.Equal(protocol, r.GetProperty("protocol").GetString());
            Assert.Equal("out-\u00c3\u00bf", r.Channel(1)); // UTF-8 of U+00FF, read back as latin-1: bytes intact
            Assert.Equal("err-\u00c3\u00bf", r.Channel(2));
            if (protocol.StartsWith("v4")) Assert.Equal("Failure", Status(r).GetProperty("status").GetString());
            else Assert.StartsWith("command terminated with non-zero exit code", r.Channel(3)); // plain text before v4
        }
        Assert.Equal(threads, s.Threads);
    }

    [Fact]
    public void ExecWithTtyMergesStreamsOnStdout()
    {
        using var s = Server();
        string id = fx.NewId("ext");
        Run(s, id, ["sleep", "1000"]);
        foreach (string[] protocol in new[] { V5, V4 })
        {
            var r = WebSocket(Url(s, "serve-exec", "--id", id, "--tty", "--stdout", "--", "sh", "-c", "echo -n stdout; echo -n stderr >&2"), protocol);
            Assert.Equal("stdoutstderr", r.Channel(1));
            Assert.Equal("", r.Channel(2));
            AssertSuccess(r);
        }
    }

    [Fact]
    public void StdinEchoesThroughCatAndAV5StdinCloseEndsIt()
    {
        using var s = Server();
        string id = fx.NewId("cat");
        Run(s, id, ["sleep", "1000"]);
        string url = Url(s, "serve-exec", "--id", id, "--stdin", "--stdout", "--stderr", "--", "cat");
        string big = string.Concat(Enumerable.Range(0, 5000).Select(i => $"line {i}\n")); // ~50 KB: several frames' worth of stdin
        var r = WebSocket(url, V5, Send(0, "hello\n"), Expect(1, "hello\n"), Send(0, big), CloseStream(0));
        Assert.Equal("hello\n" + big, r.Channel(1));
        AssertSuccess(r);
    }

    [Fact]
    public void MegabytesOfExecOutputArriveByteExact()
    {
        // Far more than the socket buffers and the connection's high water (256 KiB): the output is
        // queued, the process held back through the output gate and released, and nothing is lost.
        using var s = Server();
        string id = fx.NewId("seq");
        Run(s, id, ["sleep", "1000"]);
        var r = WebSocket(Url(s, "serve-exec", "--id", id, "--stdout", "--", "seq", "1", "400000"), V5);
        string expected = string.Concat(Enumerable.Range(1, 400000).Select(i => $"{i}\n"));
        Assert.Equal(expected.Length, r.Channel(1).Length);
        Assert.Equal(expected, r.Channel(1));
        AssertSuccess(r);
    }

    [Fact]
    public void ResizeReachesTheExecTerminal()
    {
        using var s = Server();
        string id = fx.NewId("rs");
        Run(s, id, ["sleep", "1000"]);
        string url = Url(s, "serve-exec", "--id", id, "--tty", "--stdin", "--stdout", "--", "sh", "-c", "read x; stty size");
        var r = WebSocket(url, V5, Send(4, """{"Width":101,"Height":33}"""), Send(0, "go\n"));
        Assert.Contains("33 101", r.Channel(1));
        AssertSuccess(r);
    }

    [Fact]
    public void NonZeroExitIsTheKubeletsFailureStatus()
    {
        using var s = Server();
        string id = fx.NewId("nz");
        Run(s, id, ["sleep", "1000"]);
        var r = WebSocket(Url(s, "serve-exec", "--id", id, "--stdin", "--stdout", "--", "sh", "-c", "read x; exit 7"), V5,
            Ping("are you there"), Send(0, "go\n"));
        Assert.True(r.GetProperty("pong").GetBoolean());
        JsonElement status = Status(r);
        Assert.Equal("Failure", status.GetProperty("status").GetString());
        Assert.Equal("NonZeroExitCode", status.GetProperty("reason").GetString());
        Assert.StartsWith("command terminated with non-zero exit code", status.GetProperty("message").GetString());
        JsonElement cause = status.GetProperty("details").GetProperty("causes")[0];
        Assert.Equal("ExitCode", cause.GetProperty("reason").GetString());
        Assert.Equal("7", cause.GetProperty("message").GetString());
        Assert.Equal(1000, r.GetProperty("close_code").GetInt32());
    }

    [Fact]
    public void KubernetesStreamClientExecs()
    {
        using var s = Server();
        string id = fx.NewId("k8s");
        Run(s, id, ["sleep", "1000"]);
        var r = KubernetesExec(Url(s, "serve-exec", "--id", id, "--stdout", "--stderr", "--", "sh", "-c", "echo -n out; echo -n err >&2; exit 3"));
        Assert.Equal("out", r.GetProperty("stdout").GetString());
        Assert.Equal("err", r.GetProperty("stderr").GetString());
        Assert.Equal(3, r.GetProperty("returncode").GetInt32());
        var tty = KubernetesExec(Url(s, "serve-exec", "--id", id, "--tty", "--stdin", "--stdout", "--", "head", "-c", "4"), "abcd\n");
        Assert.Contains("abcd", tty.GetProperty("stdout").GetString());
        Assert.Equal(0, tty.GetProperty("returncode").GetInt32());
    }

    [Fact]
    public void TokensAreSingleUseAndBadRequestsGetClearHttpErrors()
    {
        using var s = Server();
        string id = fx.NewId("tok");
        Run(s, id, ["sleep", "1000"]);
        string url = Url(s, "serve-exec", "--id", id, "--stdout", "--", "true");
        AssertSuccess(WebSocket(url, V5));
        Assert.Equal(404, WebSocket(url, V5).GetProperty("http_status").GetInt32());
        Assert.Equal(404, WebSocket(url[..^4] + "0000", V5).GetProperty("http_status").GetInt32());

        string fresh = Url(s, "serve-exec", "--id", id, "--stdout", "--", "true");
        var post = Http(fresh, "POST");
        Assert.Equal(405, post.GetProperty("status").GetInt32());
        var spdy = Http(fresh, "GET", "Connection: Upgrade", "Upgrade: SPDY/3.1");
        Assert.Equal(400, spdy.GetProperty("status").GetInt32());
        Assert.Contains("SPDY/3.1 is not supported", spdy.GetProperty("body").GetString());
        Assert.Equal(400, Http(fresh, "GET").GetProperty("status").GetInt32());
        Assert.Equal(431, Http(fresh, "GET", "X-Big: " + new string('x', 9000)).GetProperty("status").GetInt32());
        // None of those used the token up.
        AssertSuccess(WebSocket(fresh, V4));
        // The token is looked up first, as the kubelet does: an unknown one is 404 whatever else is wrong.
        var origin = new Uri(fresh).GetLeftPart(UriPartial.Authority);
        Assert.Equal(404, Http($"{origin}/port-forward/{new string('0', 32)}", "GET").GetProperty("status").GetInt32());
        Assert.Equal(404, Http($"{origin}/exec/{new string('0', 32)}", "POST").GetProperty("status").GetInt32());

        // At most 25 live tokens: the 26th evicts the oldest.
        string[] urls = [.. Enumerable.Range(0, 26).Select(_ => Url(s, "serve-exec", "--id", id, "--stdout", "--", "true"))];
        Assert.Equal(404, WebSocket(urls[0], V5).GetProperty("http_status").GetInt32());
        AssertSuccess(WebSocket(urls[1], V5));
        AssertSuccess(WebSocket(urls[25], V5));
        Assert.True(s.Alive);
    }

    [Fact]
    public void MissingContainerIsAnRpcError()
    {
        using var s = Server();
        foreach (string[] call in new[] { new[] { "serve-exec", "--id", "nope", "--stdout", "--", "true" }, ["serve-attach", "--id", "nope", "--stdout"] })
        {
            var r = ConmonRpc.Run(s.Socket, call);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("container nope not found", r.Json.GetProperty("error").GetString());
        }
    }

    [Fact]
    public void AttachToATtyContainerResizesAndEndsWithIt()
    {
        using var s = Server();
        string id = fx.NewId("at");
        Run(s, id, ["sh", "-c", "read x; echo got-$x; stty size"], true, "--stdin");
        var r = WebSocket(Url(s, "serve-attach", "--id", id, "--stdin", "--stdout"), V5,
            Send(4, """{"Width":77,"Height":22}"""), Send(0, "hi\n"));
        Assert.Contains("got-hi", r.Channel(1));
        Assert.Contains("22 77", r.Channel(1));
        AssertSuccess(r);
    }

    [Fact]
    public void AttachToAPipeContainerSplitsStreamsAndLogsOnce()
    {
        using var s = Server();
        string id = fx.NewId("ap");
        string log = Temp("log");
        Run(s, id, ["sh", "-c", "read x; echo out-$x; echo err-$x >&2"], false, "--stdin", "--log-driver", $"cri:{log}");
        // Two sessions at once: the first only watches, the second types.
        var watcher = StartWebSocket(Url(s, "serve-attach", "--id", id, "--stdout", "--stderr"), V5);
        var r = WebSocket(Url(s, "serve-attach", "--id", id, "--stdin", "--stdout", "--stderr"), V5, Send(0, "yo\n"));
        Assert.Equal("out-yo\n", r.Channel(1));
        Assert.Equal("err-yo\n", r.Channel(2));
        AssertSuccess(r);
        var w = Finish(watcher);
        Assert.Equal("out-yo\n", w.Channel(1));
        Assert.Equal("err-yo\n", w.Channel(2));
        string[] lines = File.ReadAllLines(log);
        Assert.Single(lines, l => l.EndsWith(" stdout F out-yo"));
        Assert.Single(lines, l => l.EndsWith(" stderr F err-yo"));
    }

    [Fact]
    public void PortForwardReachesThePodsLoopbackNotTheHosts()
    {
        using var s = Server();
        // A decoy on the host's 127.0.0.1 at the port the pod listens on: reaching it would mean the wrong namespace.
        using var decoy = new TcpListener(IPAddress.Loopback, 0);
        decoy.Start();
        int port = ((IPEndPoint)decoy.LocalEndpoint).Port;
        var decoyServed = decoy.AcceptSocketAsync().ContinueWith(t => { using Socket c = t.Result; c.Send("decoy\n"u8); });
        using var unused = new TcpListener(IPAddress.Loopback, 0);
        unused.Start();
        int refused = ((IPEndPoint)unused.LocalEndpoint).Port; // listening on the host only: refused inside the pod

        string id = fx.NewId("pf");
        string log = Temp("log");
        int pid = Run(s, id, ["nc", "-l", "-p", $"{port}", "-e", "sh", "-c", "echo in-pod; read x; echo got-$x; echo err-$x >&2"], false, "--log-driver", $"cri:{log}");
        Host.Check("/usr/bin/nsenter", $"--net=/proc/{pid}/ns/net", "/bin/busybox", "ip", "link", "set", "lo", "up");
        Assert.True(PodmonProcess.WaitUntil(() => Listening(pid, port), 10_000),
            $"nc did not listen in the pod: {File.ReadAllText($"/proc/{pid}/net/tcp")}{File.ReadAllText($"/proc/{pid}/net/tcp6")} log: {(File.Exists(log) ? File.ReadAllText(log) : "")}");

        string url = Url(s, "serve-port-forward", "--netns-path", $"/proc/{pid}/ns/net") + $"?port={port}&port={refused}";
        // The pod's side ends after one exchange; with both ports done the server closes the session.
        var r = WebSocket(url, V4, Expect(0, "in-pod\n"), Expect(3, "ECONNREFUSED"), Send(0, "from-client\n"));
        Assert.Equal("v4.channel.k8s.io", r.GetProperty("protocol").GetString());
        string Le(int p) => $"{p & 0xff:x2}{p >> 8:x2}";
        var first = r.GetProperty("messages").EnumerateArray().Take(4).Select(m => (m[0].GetInt32(), m[1].GetString())).ToList();
        Assert.Equal([(0, Le(port)), (1, Le(port)), (2, Le(refused)), (3, Le(refused))], first);
        Assert.Equal(Encoding.Latin1.GetString(Convert.FromHexString(Le(port))) + "in-pod\ngot-from-client\n", r.Channel(0));
        Assert.Equal(1000, r.GetProperty("close_code").GetInt32());
        Assert.Contains($"error forwarding port {refused}", r.Channel(3));
        Assert.False(decoyServed.IsCompleted, "the host's listener was reached");
        Assert.True(PodmonProcess.WaitUntil(() => File.Exists(log) && File.ReadAllText(log).Contains("stderr F err-from-client"), 10_000),
            "the pod's listener did not get the client's bytes");
    }

    /// <summary>Whether /proc/PID/net/tcp{,6} (the pod's namespace) has a listener on the port (busybox nc listens dual-stack).</summary>
    static bool Listening(int pid, int port) =>
        new[] { "tcp", "tcp6" }.SelectMany(f => File.ReadAllLines($"/proc/{pid}/net/{f}").Skip(1))
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Any(f => f[1].EndsWith($":{port:X4}") && f[3] == "0A");
}
