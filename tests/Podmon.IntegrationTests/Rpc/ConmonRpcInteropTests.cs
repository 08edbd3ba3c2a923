using System.Diagnostics;
using System.Text.Json;

namespace Podmon.IntegrationTests.Rpc;

/// <summary>
/// The official C++ Cap'n Proto implementation against the published binary: the reference client
/// (conmon-rpc), and the reference decoder (wire-decode) on connections recorded by wire-relay.
/// </summary>
public class ConmonRpcInteropTests
{
    static readonly string[] VersionFields = ["version", "commit", "buildDate", "target", "rustVersion", "cargoVersion"];

    [Fact]
    public void Version()
    {
        using var server = new RpcTestServer();
        var r = ConmonRpc.Run(server.Socket, "version");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        JsonElement v = r.Json;
        Assert.Equal(server.Pid, v.GetProperty("processId").GetInt32());
        Assert.Equal(File.ReadAllText(server.Dir.Pidfile).Trim(), v.GetProperty("processId").GetInt32().ToString());
        foreach (string f in VersionFields) Assert.False(string.IsNullOrEmpty(v.GetProperty(f).GetString()), f);
        Assert.Equal("", v.GetProperty("cargoTree").GetString());
        Assert.Equal(JsonValueKind.String, v.GetProperty("tag").ValueKind);
        // The same values as the CLI's own --version-json.
        using var cli = JsonDocument.Parse(PodmonProcess.Run(["--version-json"]).Stdout);
        Assert.Equal(cli.RootElement.GetProperty("version").GetString(), v.GetProperty("version").GetString());
        Assert.Equal(cli.RootElement.GetProperty("commit").GetString(), v.GetProperty("commit").GetString());
        Assert.Equal(cli.RootElement.GetProperty("rust_version").GetString(), v.GetProperty("rustVersion").GetString());
    }

    [Fact]
    public void VersionVerboseWithMetadata()
    {
        using var server = new RpcTestServer();
        var r = ConmonRpc.Run(server.Socket, "version", "--verbose", "--meta", "k=v", "--meta", "traceparent=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Equal(server.Pid, r.Json.GetProperty("processId").GetInt32());
        Assert.StartsWith("podmon v", r.Json.GetProperty("cargoTree").GetString());
    }

    [Fact]
    public void IdleServerDropsItsNeverWrittenDataAndAnswersTheSame()
    {
        // The binary's .data (type data, preinitialized statics) is read in whole at start-up; once
        // idle, the pages that were only read are dropped (written ones are anonymous and stay).
        using var server = new RpcTestServer();
        var before = ConmonRpc.Run(server.Socket, "version", "--verbose");
        Assert.True(before.ExitCode == 0, before.Stdout + before.Stderr);
        (int rss, int anon, int size) = PodmonProcess.DataMapping(server.Pid);
        Assert.True(PodmonProcess.WaitUntil(() => { (rss, anon, size) = PodmonProcess.DataMapping(server.Pid); return rss - anon < 32; }, 10_000),
            $"{rss} kB of {size} kB of data resident after idling, {anon} kB of it written");
        // Everything read from there again comes back as it was: the same answer, many times over.
        for (int i = 0; i < 3; i++)
        {
            var again = ConmonRpc.Run(server.Socket, "version", "--verbose");
            Assert.True(again.ExitCode == 0, again.Stdout + again.Stderr);
            Assert.Equal(before.Json.GetRawText(), again.Json.GetRawText());
            PodmonProcess.WaitUntil(() => { (rss, anon, _) = PodmonProcess.DataMapping(server.Pid); return rss - anon < 32; }, 5000);
        }
        Assert.Equal(2, server.Threads);
    }

    [Fact]
    public void IdleServerUnmapsItsCodeAndStillServes()
    {
        using var server = new RpcTestServer();
        Assert.Equal(0, ConmonRpc.Run(server.Socket, "version").ExitCode);
        // Start-up and the call map most of the binary's code; a quiet second later the loop lets it go.
        (int rss, int size) = PodmonProcess.CodeMapping(server.Pid);
        Assert.True(PodmonProcess.WaitUntil(() => (rss = PodmonProcess.CodeMapping(server.Pid).RssKb) < size / 4, 10_000),
            $"{rss} of {size} kB of code still mapped after idling");
        // Whatever runs next is faulted back in from the page cache.
        var r = ConmonRpc.Run(server.Socket, "version");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Equal(server.Pid, r.Json.GetProperty("processId").GetInt32());
        Assert.True(PodmonProcess.CodeMapping(server.Pid).RssKb > rss);
    }

    [Fact]
    public void StressVersion10000()
    {
        using var server = new RpcTestServer();
        var r = ConmonRpc.Run(server.Socket, "stress-version", "10000");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Equal(10000, r.Json.GetProperty("calls").GetInt32());
        Assert.True(server.Alive);
        Assert.Equal(2, server.Threads);
    }

    [Fact]
    public void ClientKilledMidCallDoesNotDisturbASecondClient()
    {
        using var server = new RpcTestServer();
        // A round counts when the flood was still running at the kill; on a loaded machine a flood
        // may finish before the second client got its answer, so try a few more rounds.
        int killedMidFlood = 0;
        for (int round = 0; round < 8 && killedMidFlood < 3; round++)
        {
            using Process flood = ConmonRpc.Start("conmon-rpc", [server.Socket, "stress-version", "100000"]);
            // Wait until the flood's connection is up and calls are flowing (the server used CPU for them).
            long cpu0 = PodmonProcess.CpuTicks(server.Pid);
            Assert.True(PodmonProcess.WaitUntil(() => PodmonProcess.CpuTicks(server.Pid) > cpu0 + 2, 30_000), "the flood never reached the server");
            var second = ConmonRpc.Run(server.Socket, "version");
            if (!flood.HasExited) killedMidFlood++;
            flood.Kill();
            flood.WaitForExit();
            Assert.True(second.ExitCode == 0, second.Stdout + second.Stderr);
            Assert.Equal(server.Pid, second.Json.GetProperty("processId").GetInt32());
            var after = ConmonRpc.Run(server.Socket, "version");
            Assert.True(after.ExitCode == 0, after.Stdout + after.Stderr);
        }
        Assert.True(killedMidFlood == 3, $"only {killedMidFlood} floods were still running when killed");
        Assert.True(server.Alive);
        Assert.Equal(2, server.Threads);
    }

    // ---- golden: what podmon sends, decoded by the official C++ library ----

    static string TempDir() => Directory.CreateTempSubdirectory("podmon-wire-").FullName;

    [Fact]
    public void RecordedVersionSessionDecodesWithTheReferenceDecoder()
    {
        using var server = new RpcTestServer();
        string dir = TempDir();
        try
        {
            var r = ConmonRpc.Record(server.Socket, dir, "version");
            Assert.Equal(0, r.ExitCode);
            Assert.Equal(
                [("c2s", "bootstrap"), ("c2s", "call-version"), ("c2s", "finish"), ("c2s", "finish"), ("c2s", "release"),
                 ("s2c", "return-bootstrap"), ("s2c", "return-version")],
                ConmonRpc.Frames(dir));

            string boot = ConmonRpc.FrameText(dir, "s2c", 0);
            Assert.Contains("answerId = 0,", boot);
            Assert.Contains("releaseParamCaps = false,", boot);
            Assert.Contains("capTable = [\n        (senderHosted = 0, attachedFd = 255) ]", boot);
            Assert.Equal("<capability pointer>", ConmonRpc.ContentJson(boot).GetString());

            string ret = ConmonRpc.FrameText(dir, "s2c", 1);
            Assert.Contains("answerId = 1,", ret);
            Assert.Contains("releaseParamCaps = false,", ret);
            JsonElement v = ConmonRpc.ContentJson(ret).GetProperty("response");
            Assert.Equal(server.Pid, v.GetProperty("processId").GetInt32());
            foreach (string f in VersionFields) Assert.False(string.IsNullOrEmpty(v.GetProperty(f).GetString()), f);
            Assert.Equal("", v.GetProperty("cargoTree").GetString());
            // The decoded response is what the client printed.
            Assert.Equal(r.Json.GetProperty("version").GetString(), v.GetProperty("version").GetString());
            Assert.Equal(r.Json.GetProperty("buildDate").GetString(), v.GetProperty("buildDate").GetString());
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void RecordedVerboseVersionAndExceptionReturnDecode()
    {
        using var server = new RpcTestServer();
        string dir = TempDir();
        try
        {
            ConmonRpc.Record(server.Socket, Path.Combine(dir, "v"), "version", "--verbose", "--meta", "k=v");
            JsonElement v = ConmonRpc.ContentJson(ConmonRpc.FrameText(Path.Combine(dir, "v"), "s2c", 1)).GetProperty("response");
            Assert.StartsWith("podmon v", v.GetProperty("cargoTree").GetString());
            Assert.Equal(server.Pid, v.GetProperty("processId").GetInt32());

            var r = ConmonRpc.Record(server.Socket, Path.Combine(dir, "e"), "create-namespaces", "--pod-id", "");
            Assert.Equal(1, r.ExitCode);
            Assert.Contains(("s2c", "return-exception-createNamespaces"), ConmonRpc.Frames(Path.Combine(dir, "e")));
            string ex = ConmonRpc.FrameText(Path.Combine(dir, "e"), "s2c", 1);
            Assert.Contains("answerId = 1,", ex);
            Assert.Contains("reason = \"createNamespaces: no pod ID provided\",", ex);
            Assert.Contains("type = failed ) ) )", ex);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void AbortFramesDecodeWithTheReferenceDecoder()
    {
        using var server = new RpcTestServer();
        string dir = TempDir();
        try
        {
            // A protocol violation after a real bootstrap and call.
            using (var c = new RawClient(server.Socket))
            {
                c.Send(GoldenFrames.Load("bootstrap-request"), GoldenFrames.Load("version-request"), RpcWire.Finish(7));
                c.ReadToEnd();
                File.WriteAllBytes(Path.Combine(dir, "c2s.bin"), c.SentBytes.ToArray());
                File.WriteAllBytes(Path.Combine(dir, "s2c.bin"), c.Received.ToArray());
            }
            ConmonRpc.Decode(Path.Combine(dir, "c2s.bin"), Path.Combine(dir, "s2c.bin"), Path.Combine(dir, "out"));
            Assert.Equal(
                [("c2s", "bootstrap"), ("c2s", "call-version"), ("c2s", "finish"), ("s2c", "return-bootstrap"), ("s2c", "return-version"), ("s2c", "abort")],
                ConmonRpc.Frames(Path.Combine(dir, "out")));
            string abort = ConmonRpc.FrameText(Path.Combine(dir, "out"), "s2c", 2);
            Assert.Contains("reason = \"protocol error: Finish for unknown question id 7\",", abort);
            Assert.Contains("type = failed ) )", abort);

            // An oversized header: the Abort is the only thing sent back.
            using (var c = new RawClient(server.Socket))
            {
                c.Send(RpcWire.HeaderClaiming(100L << 20));
                c.ReadToEnd();
                File.WriteAllBytes(Path.Combine(dir, "c2s-big.bin"), []);
                File.WriteAllBytes(Path.Combine(dir, "s2c-big.bin"), c.Received.ToArray());
            }
            ConmonRpc.Decode(Path.Combine(dir, "c2s-big.bin"), Path.Combine(dir, "s2c-big.bin"), Path.Combine(dir, "big"));
            Assert.Equal([("s2c", "abort")], ConmonRpc.Frames(Path.Combine(dir, "big")));
            Assert.Contains("exceeds the maximum message size of 16777216 bytes\",", ConmonRpc.FrameText(Path.Combine(dir, "big"), "s2c", 0));
        }
        finally { Directory.Delete(dir, true); }
    }
}
