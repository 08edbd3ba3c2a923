using System.Text;
using CsCheck;
using Podmon.Logging;
using Podmon.Sys;

namespace Podmon.Tests.Logging;

/// <summary>The log record formats (CRI, JSON) and the size limit, written by the writers alone: no runtime, no container.</summary>
public sealed class LogFormatTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("podmon-logfmt-").FullName;

    string Temp(string name) => Path.Combine(_dir, $"{Guid.NewGuid():N}-{name}");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void CriRecordFormatIsByteExact()
    {
        string path = Temp("unit.log");
        using (var w = new CriLogWriter(LogFile.Create(path, 0, 0b110_000_000)))
        {
            var t = new LogTime(1_700_000_000, 5);
            w.Write(Pipe.Stdout, "a\nbc\n\nd"u8, t);
            w.Write(Pipe.Stderr, "e\n"u8, t);
        }
        TimeSpan off = TimeZoneInfo.Local.GetUtcOffset(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));
        string ts = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000).ToOffset(off).ToString("yyyy-MM-ddTHH:mm:ss") + ".000000005" +
                    (off < TimeSpan.Zero ? "-" : "+") + off.ToString(@"hh\:mm");
        Assert.Equal($"{ts} stdout F a\n{ts} stdout F bc\n{ts} stdout F \n{ts} stdout P d\n{ts} stderr F e\n", File.ReadAllText(path));
    }

    [Fact]
    public void JsonLogHasConmonRsShape()
    {
        string path = Temp("unit.json");
        using (var w = new JsonLogWriter(LogFile.Create(path, 0, 0b110_100_100)))
            w.Write(Pipe.Stderr, [.. "  say \"hi\"\\ \t\n\u0001ctl\nbad"u8, 0xff, 0xfe, .. "utf8 é\nbad"u8, 0xff], new LogTime(42, 0));
        Assert.Equal(
            "{\"timestamp\":42,\"pipe\":\"stderr\",\"message\":\"say \\\"hi\\\"\\\\\"}\n" +
            "{\"timestamp\":42,\"pipe\":\"stderr\",\"message\":\"\\u0001ctl\"}\n" +
            "{\"timestamp\":42,\"pipe\":\"stderr\",\"message\":\"bad\uFFFD\uFFFDutf8 é\"}\n" +
            "{\"timestamp\":42,\"pipe\":\"stderr\",\"message\":\"bad\uFFFD\"}\n",
            File.ReadAllText(path));
    }

    [Fact]
    public void MaxSizeSplitsARecordLargerThanTheLimit()
    {
        string path = Temp("split.log");
        using (var w = new CriLogWriter(LogFile.Create(path, 200, 0b110_000_000)))
            w.Write(Pipe.Stdout, Encoding.ASCII.GetBytes(new string('z', 500) + "\n"), new LogTime(1, 0));
        string text = File.ReadAllText(path);
        Assert.True(text.Length <= 200);
        Assert.Matches(@"^\S+ stdout F z+\n$", text); // the last piece, with the line's own tag
    }

    /// <summary>
    /// conmon's --log-global-size-max: whole lines until the records come to the limit (the one
    /// that reaches it included), then nothing, across chunks and the file's own truncations.
    /// </summary>
    [Theory]
    [InlineData(0UL)]
    [InlineData(200UL)]
    public void GlobalMaxSizeStopsAfterTheLineThatReachesIt(ulong maxSize)
    {
        string path = Temp("global.log");
        int record = LogTime.Rfc3339Length + " stdout F ".Length + 50; // a 49-byte line and its newline
        using (var w = new CriLogWriter(LogFile.Create(path, maxSize, 0b110_000_000)) { GlobalMaxSize = (ulong)(5 * record + 1) })
            for (int chunk = 0; chunk < 3; chunk++)
                w.Write(Pipe.Stdout, Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(chunk * 4, 4).Select(i => $"{i:D3}{new string('a', 46)}\n"))), new LogTime(1, 0));
        string[] lines = File.ReadAllLines(path);
        Assert.All(lines, l => Assert.Equal(record - 1, l.Length));
        Assert.EndsWith(" stdout F 005" + new string('a', 46), lines[^1]); // the sixth line reached the limit; no seventh
        if (maxSize == 0) Assert.Equal(6, lines.Length);
    }

    /// <summary>
    /// Chunks of every shape (short lines copied into the format buffer, long ones written from
    /// where they are in the same writev, pieces without a newline) come back byte for byte from
    /// the records, each record whole and tagged right.
    /// </summary>
    [Fact]
    public void AnyChunksRebuildFromTheirCriRecords()
    {
        Gen<byte[]> line = Gen.OneOf(Gen.Int[0, 200], Gen.Int[3000, 70_000]).Select(n => Encoding.ASCII.GetBytes(new string('a', n) + "\n"));
        Gen<byte[]> chunk = Gen.Select(line.Array[0, 6], Gen.Int[0, 9000], (lines, tail) =>
            lines.SelectMany(l => l).Concat(Enumerable.Repeat((byte)'t', tail)).ToArray());
        chunk.Array[1, 5].Sample(chunks =>
        {
            string path = Temp("prop.log");
            using (var w = new CriLogWriter(LogFile.Create(path, 0, 0b110_000_000)))
                foreach (byte[] c in chunks) w.Write(Pipe.Stdout, c, new LogTime(1, 0));
            var rebuilt = new MemoryStream();
            foreach (string rec in File.ReadAllText(path).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                string[] f = rec.Split(' ', 4);
                Assert.Equal("stdout", f[1]);
                Assert.Contains(f[2], new[] { "F", "P" });
                rebuilt.Write(Encoding.ASCII.GetBytes(f.Length > 3 ? f[3] : ""));
                if (f[2] == "F") rebuilt.WriteByte((byte)'\n');
            }
            File.Delete(path);
            Assert.Equal(chunks.SelectMany(c => c).ToArray(), rebuilt.ToArray());
        }, iter: 60);
    }
}
