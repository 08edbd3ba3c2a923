using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Podmon.Containers;
using Podmon.Logging;
using Podmon.IntegrationTests.Containers.Fixtures;

namespace Podmon.IntegrationTests.Logging;

public class LogTests(RuncFixture fx) : IClassFixture<RuncFixture>
{
    static readonly Regex CriRecord = new(@"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}[+-]\d\d:\d\d) (stdout|stderr) ([FP]) (.*)$", RegexOptions.Singleline);

    string Temp(string name) => Path.Combine(fx.Root, $"{Guid.NewGuid():N}-{name}");

    CreateRequest Request(string id, string[] args, IReadOnlyList<LogDriverConfig> logs, bool stdin = false) => new()
    {
        Id = id,
        BundlePath = fx.Bundle(id, args),
        LogDrivers = logs,
        Stdin = stdin,
    };

    /// <summary>Each stream's bytes rebuilt from CRI records (P records' added newline dropped), plus the tags in order.</summary>
    static (string Stdout, string Stderr, List<string> Records) ParseCri(string text)
    {
        var out_ = new StringBuilder();
        var err = new StringBuilder();
        var records = new List<string>();
        Assert.EndsWith("\n", text);
        foreach (string line in text[..^1].Split('\n'))
        {
            Match m = CriRecord.Match(line);
            Assert.True(m.Success, $"not a CRI record: '{line[..Math.Min(80, line.Length)]}'");
            string content = m.Groups[4].Value + (m.Groups[3].Value == "F" ? "\n" : "");
            (m.Groups[2].Value == "stdout" ? out_ : err).Append(content);
            records.Add($"{m.Groups[2].Value} {m.Groups[3].Value} {(m.Groups[4].Value.Length > 20 ? $"<{m.Groups[4].Value.Length}>" : m.Groups[4].Value)}");
        }
        return (out_.ToString(), err.ToString(), records);
    }

    [Fact]
    public void CriLogHoldsEveryByteWithFullAndPartialTags()
    {
        using var h = new EngineHarness(fx);
        string id = fx.NewId();
        string log = Temp("cri.log");
        h.CreateOk(Request(id, ["sh", "-c",
            "printf 'one\\ntwo\\n'; printf 'err-one\\n' >&2; head -c 70000 /dev/zero | tr '\\0' a; echo; printf 'tail-partial'"],
            [new LogDriverConfig(LogDriverType.ContainerRuntimeInterface, log)]));
        fx.Start(id);
        Assert.Equal(0, h.WaitExit(id));
        var (stdout, stderr, records) = ParseCri(File.ReadAllText(log));
        Assert.Equal("one\ntwo\n" + new string('a', 70000) + "\ntail-partial", stdout);
        Assert.Equal("err-one\n", stderr);
        Assert.Equal(["stderr F err-one"], records.Where(r => r.StartsWith("stderr")));
        List<string> outs = [.. records.Where(r => r.StartsWith("stdout"))];
        Assert.Equal("stdout F one", outs[0]);
        Assert.Equal("stdout F two", outs[1]);
        Assert.Equal("stdout P tail-partial", outs[^1]);
        // the 70000-byte line is longer than one read: at least one P piece, closed by an F piece
        int lastLong = outs.FindLastIndex(r => r.StartsWith("stdout P <"));
        Assert.True(lastLong > 1, string.Join("\n", outs));
        Assert.StartsWith("stdout F", outs[lastLong + 1]);
    }

    [Fact]
    public void StreamedSmallWritesAreReadInBatches()
    {
        // 20,000 writes of 16 bytes, no newline: read as they come that is one P record per few
        // writes; batched (the fd rests while the pipe fills) one per millisecond of streaming.
        using var h = new EngineHarness(fx);
        string id = fx.NewId();
        string log = Temp("batch.log");
        h.CreateOk(Request(id, ["sh", "-c", "dd if=/dev/zero bs=16 count=20000 2>/dev/null"],
            [new LogDriverConfig(LogDriverType.ContainerRuntimeInterface, log)]));
        fx.Start(id);
        Assert.Equal(0, h.WaitExit(id));
        var (stdout, _, records) = ParseCri(File.ReadAllText(log));
        Assert.Equal(new string('\0', 320_000), stdout); // nothing lost or reordered by resting
        Assert.True(records.Count < 200, $"{records.Count} records for 20,000 writes");
    }

    [Fact]
    public void JsonLogFromAContainer()
    {
        using var h = new EngineHarness(fx);
        string id = fx.NewId();
        string log = Temp("c.json");
        h.CreateOk(Request(id, ["sh", "-c", "echo hello; echo oops >&2"], [new LogDriverConfig(LogDriverType.Json, log)]));
        fx.Start(id);
        h.WaitExit(id);
        string[] lines = File.ReadAllLines(log);
        Assert.Equal(2, lines.Length);
        Assert.Matches("^\\{\"timestamp\":\\d{10},\"pipe\":\"stdout\",\"message\":\"hello\"\\}$", lines.Single(l => l.Contains("stdout")));
        Assert.Matches("^\\{\"timestamp\":\\d{10},\"pipe\":\"stderr\",\"message\":\"oops\"\\}$", lines.Single(l => l.Contains("stderr")));
    }

    [Theory]
    [InlineData(LogDriverType.ContainerRuntimeInterface)]
    [InlineData(LogDriverType.Json)]
    public void MaxSizeIsNeverExceeded(LogDriverType type)
    {
        const ulong Max = 1000;
        using var h = new EngineHarness(fx);
        string id = fx.NewId();
        string log = Temp("max.log");
        h.CreateOk(Request(id, ["sh", "-c", "seq 1 300; head -c 5000 /dev/zero | tr '\\0' x; echo; echo the-end"],
            [new LogDriverConfig(type, log, Max)]));
        fx.Start(id);
        long largest = 0;
        h.RunUntil(() =>
        {
            largest = Math.Max(largest, new FileInfo(log).Length);
            return h.Exits.ContainsKey(id);
        });
        string text = File.ReadAllText(log);
        Assert.True(largest <= (long)Max && text.Length <= (int)Max, $"log grew to {largest} bytes");
        Assert.Contains("the-end", text);
        Assert.EndsWith("\n", text);
    }

    [Fact]
    public void AFailedCreateLeavesLogFilesAsTheyWere()
    {
        using var h = new EngineHarness(fx);
        string kept = Temp("kept.log"), json = Temp("new.json"), cri = Temp("new.log");
        File.WriteAllText(kept, "an earlier container's log\n");
        LogDriverConfig[] logs =
        [
            new(LogDriverType.ContainerRuntimeInterface, kept),
            new(LogDriverType.Json, json),
            new(LogDriverType.ContainerRuntimeInterface, cri, Append: true),
        ];
        // the runtime fails (no such bundle), and a request refused after the logs were opened
        CreateResult runtimeFailed = h.Create(new CreateRequest { Id = fx.NewId(), BundlePath = Temp("no-bundle"), LogDrivers = logs });
        Assert.False(runtimeFailed.Succeeded);
        string refusedId = fx.NewId();
        CreateResult refused = h.Create(new CreateRequest
        {
            Id = refusedId, BundlePath = fx.Bundle(refusedId, ["true"]), LogDrivers = logs, Terminal = true, PassthroughStdio = true,
        });
        Assert.False(refused.Succeeded);
        Assert.Equal("an earlier container's log\n", File.ReadAllText(kept));
        Assert.False(File.Exists(json), "a failed create made the JSON log");
        Assert.False(File.Exists(cri), "a failed create made the CRI log");

        // a create that succeeds starts the log afresh (conmon-rs), before the container prints
        string id = fx.NewId();
        h.CreateOk(Request(id, ["echo", "mine"], logs));
        Assert.Equal("", File.ReadAllText(kept));
        fx.Start(id);
        Assert.Equal(0, h.WaitExit(id));
        Assert.Equal(["stdout F mine"], ParseCri(File.ReadAllText(kept)).Records);
        Assert.Equal(["stdout F mine"], ParseCri(File.ReadAllText(cri)).Records);
    }

    [Fact]
    public void ReopenAfterRenameLosesNothing()
    {
        using var h = new EngineHarness(fx);
        string id = fx.NewId();
        string log = Temp("rot.log");
        h.CreateOk(Request(id, ["sh", "-c", "read a; echo before; read b; echo after"],
            [new LogDriverConfig(LogDriverType.ContainerRuntimeInterface, log)], stdin: true));
        fx.Start(id);
        Container c = h.Engine.Find(id)!;
        c.Io.Stdin!.Write("1\n"u8);
        h.RunUntil(() => File.ReadAllText(log).Contains("before"), what: "first line");
        File.Move(log, log + ".1");
        h.Engine.ReopenLogs(id);
        c.Io.Stdin!.Write("2\n"u8);
        h.WaitExit(id);
        Assert.Matches(@"^\S+ stdout F before\n$", File.ReadAllText(log + ".1"));
        Assert.Matches(@"^\S+ stdout F after\n$", File.ReadAllText(log));
        Assert.Throws<ContainerException>(() => h.Engine.ReopenLogs(id)); // gone now
    }

    [Fact]
    public void JournaldGetsOneDatagramPerLine()
    {
        string sockPath = Temp("journal.sock");
        using var journal = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        journal.Bind(new UnixDomainSocketEndPoint(sockPath));
        using var h = new EngineHarness(fx, o => new EngineOptions
        {
            RuntimePath = o.RuntimePath, RuntimeRoot = o.RuntimeRoot, RuntimeDir = o.RuntimeDir,
            WatchdogPath = o.WatchdogPath, WatchdogArgs = o.WatchdogArgs, JournalSocket = sockPath,
        });
        string id = fx.NewId("jour");
        h.CreateOk(Request(id, ["sh", "-c", "echo hello; printf part"], [new LogDriverConfig(LogDriverType.Journald)]));
        fx.Start(id);
        h.WaitExit(id);
        var datagrams = new List<byte[]>();
        var buf = new byte[65536];
        while (journal.Available > 0) datagrams.Add(buf.AsSpan(0, journal.Receive(buf)).ToArray());
        Assert.Equal(2, datagrams.Count);
        static string Message(byte[] d)
        {
            int at = d.AsSpan().IndexOf("MESSAGE\n"u8) + 8;
            int len = (int)BitConverter.ToUInt64(d, at);
            return Encoding.UTF8.GetString(d, at + 8, len);
        }
        string first = Encoding.UTF8.GetString(datagrams[0]);
        Assert.Equal("hello", Message(datagrams[0]));
        Assert.Contains("PRIORITY=6\n", first);
        Assert.Contains($"CONTAINER_ID_FULL={id}\n", first);
        Assert.Contains($"CONTAINER_ID={id[..12]}\n", first);
        Assert.DoesNotContain("CONTAINER_PARTIAL_MESSAGE", first);
        Assert.Equal("part", Message(datagrams[1]));
        Assert.Contains("CONTAINER_PARTIAL_MESSAGE=true\n", Encoding.UTF8.GetString(datagrams[1]));
    }

    [Fact]
    public void SteadyStateOutputAllocatesNothingPerLine()
    {
        using var h = new EngineHarness(fx);
        string id = fx.NewId();
        string cri = Temp("alloc.log"), json = Temp("alloc.json");
        h.CreateOk(Request(id, ["sh", "-c", "read go; yes hello-podmon | head -n 200000; read done"],
            [new LogDriverConfig(LogDriverType.ContainerRuntimeInterface, cri), new LogDriverConfig(LogDriverType.Json, json)], stdin: true));
        fx.Start(id);
        Container c = h.Engine.Find(id)!;
        h.RunFor(50);
        c.Io.Stdin!.Write("go\n"u8);
        long before = GC.GetAllocatedBytesForCurrentThread();
        h.RunUntil(() => new FileInfo(json).Length >= 200_000 * 60L, what: "200000 lines");
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        c.Io.Stdin!.Write("x\n"u8);
        h.WaitExit(id);
        // Per-line allocation would be megabytes; the remainder is the test's FileInfo polling.
        Assert.True(allocated < 256 * 1024, $"{allocated} bytes allocated for 200000 lines");
        var (stdout, _, records) = ParseCri(File.ReadAllText(cri));
        Assert.Equal(string.Concat(Enumerable.Repeat("hello-podmon\n", 200_000)), stdout);
    }
}
