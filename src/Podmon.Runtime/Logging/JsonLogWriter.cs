using Podmon.Sys;

namespace Podmon.Logging;

/// <summary>
/// conmon-rs's JSON driver: one object per line (or per trailing piece of a chunk without a
/// newline), {"timestamp":&lt;unix seconds&gt;,"pipe":"stdout","message":"&lt;line&gt;"}, the
/// message trimmed of surrounding ASCII whitespace and escaped by <see cref="JsonEscape"/>. A record larger than maxSize is split into several records at
/// character boundaries.
/// </summary>
public sealed class JsonLogWriter(LogFile file) : ILogWriter
{
    public LogFile? OutputFile => file;

    public void Write(Pipe pipe, ReadOnlySpan<byte> data, in LogTime time)
    {
        Span<byte> prefix = stackalloc byte[64];
        int p = 0;
        "{\"timestamp\":"u8.CopyTo(prefix);
        p += 13;
        p += FormatDecimal(time.UnixSeconds, prefix[p..]);
        ReadOnlySpan<byte> middle = pipe == Pipe.Stdout ? ",\"pipe\":\"stdout\",\"message\":\""u8 : ",\"pipe\":\"stderr\",\"message\":\""u8;
        middle.CopyTo(prefix[p..]);
        p += middle.Length;
        ReadOnlySpan<byte> head = prefix[..p];
        while (!data.IsEmpty)
        {
            int nl = data.IndexOf((byte)'\n');
            ReadOnlySpan<byte> line = nl < 0 ? data : data[..(nl + 1)];
            data = nl < 0 ? default : data[(nl + 1)..];
            Record(head, line.Trim(" \t\n\v\f\r"u8));
        }
        file.Flush();
    }

    void Record(ReadOnlySpan<byte> head, ReadOnlySpan<byte> message)
    {
        const int Tail = 3; // "}\n plus the closing quote
        long room = file.MaxSize > 0 ? (long)file.MaxSize - head.Length - Tail : long.MaxValue;
        do
        {
            int take = JsonEscape.Fit(message, room);
            ReadOnlySpan<byte> piece = message[..take];
            message = message[take..];
            file.BeginRecord(head.Length + JsonEscape.Length(piece) + Tail);
            file.Append(head);
            JsonEscape.Write(piece, new FileSink(file));
            file.Append("\"}\n"u8);
        } while (!message.IsEmpty);
    }

    static int FormatDecimal(long value, Span<byte> dest)
    {
        value.TryFormat(dest, out int n, default, System.Globalization.CultureInfo.InvariantCulture);
        return n;
    }

    readonly struct FileSink(LogFile file) : IByteSink
    {
        public void Append(ReadOnlySpan<byte> bytes) => file.Append(bytes);
    }

    public void Sync() => file.Sync();

    public void Reopen() => file.Reopen();

    public void Dispose() => file.Dispose();
}
