using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Podmon.Logging;
using Podmon.Sys;
using Podmon.IntegrationTests.Containers.Fixtures;
using Podmon.IntegrationTests.Rpc;

namespace Podmon.IntegrationTests.Logging;

/// <summary>
/// A log on a tiny tmpfs that fills and frees while it is written: the file only ever holds whole
/// records of lines that were printed, everything written before the disk filled and after it
/// emptied is there, and a size limit still holds.
/// </summary>
public class LogDiskFullTests(RuncFixture fx) : IClassFixture<RuncFixture>
{
    static readonly Regex CriRecord = new(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}[+-]\d\d:\d\d (stdout|stderr) ([FP]) (.*)$", RegexOptions.Singleline);
    static readonly Regex JsonRecord = new(@"^\{""timestamp"":\d+,""pipe"":""(stdout|stderr)"",""message"":""([^""\\]*)""\}$");
    static readonly Regex Numbered = new(@"^L(\d{6}) ");

    /// <summary>Line <paramref name="seq"/>: number, 0–239 letters, a checksum of both; a torn or glued line cannot pass.</summary>
    public static string Line(int seq)
    {
        int n = seq * 37 % 240;
        return $"L{seq:D6} {Letters.Substring(seq % 26, n)} #{(seq * 7919 + n) % 100000:D5}";
    }

    static readonly string Letters = string.Concat(Enumerable.Repeat("abcdefghijklmnopqrstuvwxyz", 11));

    /// <summary>The same lines from busybox sh, numbered from 1; the last number printed goes to /go/seq every 10 lines.</summary>
    static readonly string Printer =
        $"P={Letters}; i=0; while [ ! -e /go/stop ]; do i=$((i+1)); n=$((i*37%240)); " +
        "printf 'L%06d %s #%05d\\n' $i \"${P:$((i%26)):$n}\" $(((i*7919+n)%100000)); " +
        "if [ $((i%10)) -eq 0 ]; then echo $i > /go/seq; sleep 0.02; fi; done; echo $i > /go/last";

    /// <summary>The sequence numbers of a CRI or JSON log, each checked to be a whole record of a printed line.</summary>
    public static List<int> Lines(string text, bool json)
    {
        var seqs = new List<int>();
        Assert.True(text.Length == 0 || text.EndsWith('\n'), "the file ends inside a record");
        string partial = "";
        foreach (string record in text.Split('\n')[..^1])
        {
            Match m = json ? JsonRecord.Match(record) : CriRecord.Match(record);
            Assert.True(m.Success, $"not a whole record: '{record}'");
            string content = json ? m.Groups[2].Value : m.Groups[3].Value;
            if (!json && m.Groups[2].Value == "P")
            {
                partial += content;
                continue;
            }
            seqs.Add(Parse(partial + content, partial.Length));
            partial = "";
        }
        return seqs;
    }

    /// <summary>A printed line, or (what was lost mid-line) a beginning of one followed by a whole one.</summary>
    static int Parse(string line, int partialLength)
    {
        if (Numbered.Match(line) is { Success: true } m && Line(int.Parse(m.Groups[1].Value)) == line) return int.Parse(m.Groups[1].Value);
        for (int k = 1; k <= partialLength; k++)
        {
            if (Numbered.Match(line[k..]) is { Success: true } w && Line(int.Parse(w.Groups[1].Value)) == line[k..] &&
                Numbered.Match(line) is { Success: true } p && Line(int.Parse(p.Groups[1].Value)).StartsWith(line[..k]))
                return int.Parse(w.Groups[1].Value);
        }
        Assert.Fail($"not a printed line: '{line}'");
        return -1;
    }

    static byte[] Chunk(int from, int count)
    {
        var sb = new StringBuilder();
        for (int i = from; i < from + count; i++) sb.Append(Line(i)).Append('\n');
        return Encoding.ASCII.GetBytes(sb.ToString());
    }

    [Theory]
    [InlineData(LogDriverType.ContainerRuntimeInterface, 0)]
    [InlineData(LogDriverType.Json, 0)]
    [InlineData(LogDriverType.ContainerRuntimeInterface, 96 * 1024)]
    public void WriterCutsBackToWholeRecordsAndResumes(LogDriverType type, int maxSize)
    {
        using var disk = new Tmpfs(fx.Root, "256k");
        string path = Path.Combine(disk.Path, "ctr.log");
        bool json = type == LogDriverType.Json;
        ILogWriter w = json
            ? new JsonLogWriter(LogFile.Create(path, (ulong)maxSize, 0b110_000_000))
            : new CriLogWriter(LogFile.Create(path, (ulong)maxSize, 0b110_000_000));
        int seq = 0, largest = 0;
        void Write(int lines)
        {
            // Chunks of 1 to 300 lines: small writes and ones that fill the 64 KiB format buffer.
            while (lines > 0)
            {
                int n = Math.Min(lines, 1 + seq * 13 % 300);
                w.Write(seq % 5 == 0 ? Pipe.Stderr : Pipe.Stdout, Chunk(seq, n), LogTime.Now());
                seq += n;
                lines -= n;
                largest = Math.Max(largest, (int)new FileInfo(path).Length);
            }
        }
        Write(300);
        int filledAt = seq;
        string filler = disk.Fill();
        Write(3000); // all lost, or all but what fits the file's last page
        File.Delete(filler);
        int freedAt = seq;
        Write(400);
        w.Dispose();

        List<int> seqs = Lines(File.ReadAllText(path), json);
        Assert.Equal(seqs.Order(), seqs);
        Assert.Equal(seqs.Distinct(), seqs);
        Assert.True(seqs.Count(s => s >= filledAt && s < freedAt) < 3000, "nothing was lost: the disk never filled");
        // Resumed by itself: every line since space returned (since the last size-limit truncation).
        int firstAfter = maxSize > 0 ? seqs.First(s => s >= freedAt) : freedAt;
        Assert.Equal(Enumerable.Range(firstAfter, seq - firstAfter), seqs.Where(s => s >= freedAt));
        if (maxSize > 0) Assert.True(largest <= maxSize, $"log reached {largest} bytes");
        else Assert.Equal(Enumerable.Range(0, filledAt), seqs.Where(s => s < filledAt)); // what came before is kept
    }

    [Fact]
    public void ServerLogsThroughAFullDiskInWholeRecords()
    {
        using var disk = new Tmpfs(fx.Root, "256k");
        string log = Path.Combine(disk.Path, "ctr.log"), exit = Path.Combine(fx.Root, $"exit-{Guid.NewGuid():N}");
        string go = Path.Combine(fx.Root, $"go-{Guid.NewGuid():N}");
        Directory.CreateDirectory(go);
        using var dir = new PodmonProcess.RuntimeDir();
        using var server = PodmonProcess.Start(["--runtime", RuncFixture.Runc, "--runtime-dir", dir.Path, "--runtime-root", fx.StateDir,
            "--cgroup-manager", "cgroupfs", "--log-driver", "stdout", "--log-level", "warn", "--skip-fork"]);
        var serverLog = new List<string>();
        var reader = new Thread(() => { while (server.StandardOutput.ReadLine() is string l) lock (serverLog) serverLog.Add(l); }) { IsBackground = true };
        reader.Start();
        List<string> Warnings() { lock (serverLog) return [.. serverLog.Where(l => l.Contains($"log file '{log}'"))]; }
        int printed = 0;
        int Printed() // the file is rewritten in place: an empty read is a moment of the rewrite
        {
            string seq = Path.Combine(go, "seq");
            if (File.Exists(seq) && int.TryParse(File.ReadAllText(seq), out int n)) printed = Math.Max(printed, n);
            return printed;
        }
        bool Logged(int seq) => File.Exists(log) && File.ReadAllText(log).Contains($" L{seq:D6} ");
        try
        {
            Assert.True(PodmonProcess.WaitUntil(() => File.Exists(dir.Socket), 10_000), "server did not listen");
            string id = fx.NewId("full");
            string bundle = fx.Bundle(id, ["sh", "-c", Printer]);
            AddBindMount(bundle, go, "/go");
            var created = ConmonRpc.Run(dir.Socket, "create", "--id", id, "--bundle", bundle, "--exit-path", exit, "--log-driver", $"cri:{log}");
            Assert.True(created.ExitCode == 0, created.Stdout + created.Stderr);
            fx.Start(id);

            Assert.True(PodmonProcess.WaitUntil(() => Printed() >= 200, 20_000), "the container does not print");
            int beforeFull = Printed();
            Assert.True(PodmonProcess.WaitUntil(() => Logged(beforeFull), 10_000), "its lines do not reach the log");
            string filler = disk.Fill();
            Assert.True(PodmonProcess.WaitUntil(() => Warnings().Count >= 1, 10_000), "no warning for the full disk");
            int whileFull = Printed();
            Assert.True(PodmonProcess.WaitUntil(() => Printed() >= whileFull + 100, 10_000), "the container stopped printing");
            File.Delete(filler);
            Assert.True(PodmonProcess.WaitUntil(() => Warnings().Count >= 2, 10_000), "no warning when the disk had room again");
            int afterFull = Printed();
            Assert.True(PodmonProcess.WaitUntil(() => Printed() >= afterFull + 200 && Logged(afterFull + 200), 20_000), "logging did not resume");
            File.WriteAllText(Path.Combine(go, "stop"), "");
            Assert.True(PodmonProcess.WaitUntil(() => File.Exists(exit), 20_000), "no exit file");
            Assert.Equal("0", File.ReadAllText(exit));
            Assert.False(server.HasExited, "the server died");
            Assert.Equal(0, ConmonRpc.Run(dir.Socket, "version").ExitCode);

            int last = int.Parse(File.ReadAllText(Path.Combine(go, "last")));
            List<int> seqs = Lines(File.ReadAllText(log), json: false);
            Assert.Equal(seqs.Order(), seqs);
            Assert.Equal(seqs.Distinct(), seqs);
            Assert.Equal(Enumerable.Range(1, beforeFull), seqs.Where(s => s <= beforeFull)); // nothing before the disk filled is lost
            Assert.Equal(Enumerable.Range(afterFull + 1, last - afterFull), seqs.Where(s => s > afterFull)); // nor after it had room
            Assert.True(seqs.Count(s => s > beforeFull && s <= afterFull) < afterFull - beforeFull, "nothing was lost: the disk never filled");
            List<string> warnings = Warnings();
            Assert.Equal(2, warnings.Count); // one episode: its start, and its end with the count
            Assert.Contains("No space left on device (ENOSPC)", warnings[0]);
            Match lost = Regex.Match(warnings[1], @": (\d+) bytes of container output lost$");
            Assert.True(lost.Success && long.Parse(lost.Groups[1].Value) > 0, warnings[1]);
        }
        finally
        {
            if (!server.HasExited) server.Kill();
            server.WaitForExit();
        }
    }

    static void AddBindMount(string bundle, string source, string target)
    {
        JsonNode config = JsonNode.Parse(File.ReadAllText(Path.Combine(bundle, "config.json")))!;
        config["mounts"]!.AsArray().Add(new JsonObject
        {
            ["destination"] = target, ["type"] = "bind", ["source"] = source, ["options"] = new JsonArray("rbind", "rw"),
        });
        File.WriteAllText(Path.Combine(bundle, "config.json"), config.ToJsonString());
    }
}
