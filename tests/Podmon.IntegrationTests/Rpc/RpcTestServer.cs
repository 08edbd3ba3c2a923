using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;
using Podmon.Capnp;

namespace Podmon.IntegrationTests.Rpc;

/// <summary>The published podmon as a daemon in a fresh runtime dir; stopped on dispose.</summary>
sealed class RpcTestServer : IDisposable
{
    public readonly PodmonProcess.RuntimeDir Dir;
    public int Pid { get; }
    public string Socket => Dir.Socket;

    public RpcTestServer() : this("/bin/true") { }

    /// <param name="runtime">the OCI runtime the server runs</param>
    /// <param name="extra">more server flags (e.g. --runtime-root)</param>
    public RpcTestServer(string runtime, params string[] extra) : this(new PodmonProcess.RuntimeDir(), runtime, extra) { }

    public RpcTestServer(PodmonProcess.RuntimeDir dir, string runtime, params string[] extra)
    {
        Dir = dir;
        try
        {
            var r = PodmonProcess.Run(["--runtime", runtime, "--runtime-dir", Dir.Path, "--log-driver", "none", .. extra]);
            Assert.True(r.ExitCode == 0, r.Stderr);
            Pid = Dir.ServerPid ?? throw new InvalidOperationException("no pidfile");
        }
        catch
        {
            Dir.Dispose(); // stops a server that did start
            throw;
        }
    }

    public int Threads => int.Parse(PodmonProcess.Status(Pid)["Threads"]);

    public bool Alive => PodmonProcess.IsAlive(Pid);

    public void Dispose() => Dir.Dispose();
}

/// <summary>A raw client socket that speaks frames.</summary>
sealed class RawClient : IDisposable
{
    readonly Socket _s = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    byte[] _buf = new byte[64 * 1024];
    int _len;
    public readonly MemoryStream Received = new();
    public readonly MemoryStream SentBytes = new();

    public RawClient(string path, int timeoutMs = 10_000)
    {
        _s.Connect(new UnixDomainSocketEndPoint(path));
        _s.ReceiveTimeout = timeoutMs;
    }

    public void Send(params byte[][] frames)
    {
        foreach (byte[] f in frames)
        {
            _s.Send(f);
            SentBytes.Write(f);
        }
    }

    public void ShutdownWrite() => _s.Shutdown(SocketShutdown.Send);

    /// <summary>The next whole frame, or null at EOF. Throws on timeout (SocketException) or a connection reset.</summary>
    public byte[]? ReadFrame()
    {
        while (true)
        {
            if (Framing.Check(_buf.AsSpan(0, _len), out int length) == FrameStatus.Complete)
            {
                byte[] frame = _buf.AsSpan(0, length).ToArray();
                _buf.AsSpan(length, _len - length).CopyTo(_buf);
                _len -= length;
                return frame;
            }
            if (length > _buf.Length) Array.Resize(ref _buf, length);
            int n = _s.Receive(_buf, _len, _buf.Length - _len, SocketFlags.None);
            if (n == 0) return null;
            Received.Write(_buf, _len, n);
            _len += n;
        }
    }

    public Msg ReadMsg() => RpcWire.Decode(ReadFrame() ?? throw new Xunit.Sdk.XunitException("EOF where a message was expected"));

    /// <summary>Reads until the server closes; returns the messages read. A reset counts as a close.</summary>
    public List<Msg> ReadToEnd()
    {
        var all = new List<Msg>();
        try
        {
            while (ReadFrame() is byte[] f) all.Add(RpcWire.Decode(f));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset) { }
        return all;
    }

    /// <summary>Bootstrap (question 0) and one pipelined version call per id; checks every answer.</summary>
    public void VersionRound(int expectedPid, uint firstId, int calls, bool bootstrap)
    {
        var frames = new List<byte[]>();
        if (bootstrap) frames.Add(RpcWire.Bootstrap(0));
        for (uint i = 0; i < calls; i++) frames.Add(RpcWire.Call(firstId + i, 0));
        Send([.. frames.SelectMany(f => f).ToArray()]);
        if (bootstrap) Assert.True(ReadMsg().ContentIsCapability);
        for (uint i = 0; i < calls; i++)
        {
            Msg m = ReadMsg();
            Assert.Equal(firstId + i, m.Id);
            Assert.Equal((uint)expectedPid, m.VersionPid);
        }
        Send([.. Enumerable.Range(0, calls).SelectMany(i => RpcWire.Finish(firstId + (uint)i)).ToArray()]);
    }

    public void Dispose() => _s.Dispose();
}

/// <summary>
/// The project's own client and wire tools on the official Cap'n Proto C++ library (tests/interop:
/// an RPC implementation that is not podmon's), and the same client built for the conmon-rs v0.7.x
/// layout; each built once per clone (into .build/interop and .build/interop-v073) when missing.
/// </summary>
static class ConmonRpc
{
    static readonly Lazy<string> _dir = new(() => EnsureBuilt(DefaultDir(), null, ["conmon-rpc", "wire-relay", "wire-decode"]));
    static readonly Lazy<string> _v073Dir = new(() => EnsureBuilt(
        Environment.GetEnvironmentVariable("CONMON_RPC_V073_DIR") is { Length: > 0 } env ? env : DefaultDir() + "-v073",
        "v073", ["conmon-rpc"]));

    public static string Dir => _dir.Value;

    /// <summary>conmon-rpc built against conmon-v0.7.3.capnp (metadataOld is Data; --meta fills it).</summary>
    public static string V073Client => Path.Combine(_v073Dir.Value, "conmon-rpc");

    static string DefaultDir() =>
        Environment.GetEnvironmentVariable("CONMON_RPC_DIR") is { Length: > 0 } env ? env.TrimEnd('/') : Repo.Path(".build", "interop");

    /// <summary>The project's own C++ client and wire tools (tests/interop), built once per clone.</summary>
    static string EnsureBuilt(string dir, string? schema, string[] tools)
    {
        if (tools.All(t => File.Exists(Path.Combine(dir, t)))) return dir;
        string script = Repo.Path("tests", "interop", "build.sh");
        var psi = new ProcessStartInfo(script)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["BUILD_DIR"] = dir;
        if (schema is not null) psi.Environment["SCHEMA"] = schema;
        using var p = Process.Start(psi)!;
        Task<string> o = p.StandardOutput.ReadToEndAsync(), e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(600_000)) { p.Kill(true); throw new TimeoutException($"{script} took over 10 minutes"); }
        if (p.ExitCode != 0 || !tools.All(t => File.Exists(Path.Combine(dir, t))))
            throw new InvalidOperationException($"{script} failed ({p.ExitCode}):\n{o.Result}\n{e.Result}");
        return dir;
    }

    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public JsonElement Json
        {
            get
            {
                string line = Assert.Single(Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
                return JsonDocument.Parse(line).RootElement;
            }
        }
    }

    /// <summary>A tool of <see cref="Dir"/> by name, or any executable by absolute path.</summary>
    public static Process Start(string tool, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(Path.IsPathRooted(tool) ? tool : Path.Combine(Dir, tool))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string a in args) psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    public static Result Run(string socket, params string[] args) => RunTool("conmon-rpc", [socket, .. args]);

    /// <summary>One call from a v0.7.x client (CRI-O up to 1.36).</summary>
    public static Result RunV073(string socket, params string[] args) => RunTool(V073Client, [socket, .. args]);

    public static Result RunTool(string tool, string[] args, int timeoutMs = 60_000)
    {
        using var p = Start(tool, args);
        Task<string> o = p.StandardOutput.ReadToEndAsync(), e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutMs))
        {
            p.Kill(true);
            throw new TimeoutException($"{tool} {string.Join(' ', args)} did not finish in {timeoutMs} ms");
        }
        p.WaitForExit();
        return new Result(p.ExitCode, o.Result, e.Result);
    }

    /// <summary>
    /// Runs conmon-rpc through wire-relay (which records both byte streams of the connection) and
    /// decodes them with wire-decode (the official C++ library) into <paramref name="outDir"/>.
    /// </summary>
    public static Result Record(string serverSocket, string outDir, params string[] args)
    {
        Directory.CreateDirectory(outDir);
        string relaySock = Path.Combine(outDir, "relay.sock"), prefix = Path.Combine(outDir, "rec");
        using var relay = Start("wire-relay", [relaySock, serverSocket, prefix]);
        Assert.Equal("ready", relay.StandardOutput.ReadLine());
        Result r = Run(relaySock, args);
        Assert.True(relay.WaitForExit(10_000), "wire-relay did not end with the connection");
        Decode(prefix + ".c2s.bin", prefix + ".s2c.bin", outDir);
        return r;
    }

    public static void Decode(string c2s, string s2c, string outDir)
    {
        Directory.CreateDirectory(outDir);
        Result d = RunTool("wire-decode", [c2s, s2c, outDir]);
        Assert.True(d.ExitCode == 0, d.Stdout + d.Stderr);
    }

    /// <summary>frames.txt as (direction, label) pairs.</summary>
    public static List<(string Dir, string Label)> Frames(string outDir) =>
        File.ReadAllLines(Path.Combine(outDir, "frames.txt"))
            .Select(l => l.Split(' '))
            .Select(f => (f[0], f[^1]))
            .ToList();

    /// <summary>The decoded text of one frame, e.g. ("s2c", 1).</summary>
    public static string FrameText(string outDir, string dir, int index) =>
        File.ReadAllText(Assert.Single(Directory.GetFiles(outDir, $"{dir}-{index:00}-*.txt")));

    /// <summary>The "results.content (JSON)" section of a decoded Return.</summary>
    public static JsonElement ContentJson(string frameText)
    {
        string[] lines = frameText.Split('\n');
        int at = Array.FindIndex(lines, l => l.StartsWith("results.content (JSON)"));
        Assert.True(at >= 0, frameText);
        return JsonDocument.Parse(lines[at + 1]).RootElement;
    }
}
