using System.Text;
using Podmon.Logging;

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
}
