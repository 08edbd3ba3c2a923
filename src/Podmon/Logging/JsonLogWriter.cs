using System.Buffers;
using System.Text;

namespace Podmon.Logging;

/// <summary>
/// conmon-rs's JSON driver: one object per line (or per trailing piece of a chunk without a
/// newline), {"timestamp":&lt;unix seconds&gt;,"pipe":"stdout","message":"&lt;line&gt;"}, the
/// message trimmed of surrounding ASCII whitespace, invalid UTF-8 replaced by U+FFFD and escaped
/// the way serde_json does. A record larger than maxSize is split into several records at
/// character boundaries.
/// </summary>
public sealed class JsonLogWriter(LogFile file) : ILogWriter
{
    static ReadOnlySpan<byte> Replacement => "\uFFFD"u8;
    static ReadOnlySpan<byte> Hex => "0123456789abcdef"u8;

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
            int take = Fit(message, room);
            ReadOnlySpan<byte> piece = message[..take];
            message = message[take..];
            file.BeginRecord(head.Length + Escape(piece, null) + Tail);
            file.Append(head);
            Escape(piece, file);
            file.Append("\"}\n"u8);
        } while (!message.IsEmpty);
    }

    /// <summary>How many bytes of <paramref name="src"/> fit in <paramref name="room"/> escaped bytes (at least one character).</summary>
    static int Fit(ReadOnlySpan<byte> src, long room)
    {
        int used = 0, i = 0;
        while (i < src.Length)
        {
            int len = Next(src[i..], out int consumed, out _);
            if (used + len > room && i > 0) break;
            used += len;
            i += consumed;
        }
        return i;
    }

    /// <summary>Escaped length of the character at the start of <paramref name="src"/>; kind: 0 plain, 1 escape, 2 replacement.</summary>
    static int Next(ReadOnlySpan<byte> src, out int consumed, out int kind)
    {
        byte b = src[0];
        if (b < 0x80)
        {
            consumed = 1;
            kind = b is (byte)'"' or (byte)'\\' || b < 0x20 ? 1 : 0;
            return kind == 0 ? 1 : b is (byte)'"' or (byte)'\\' or (byte)'\b' or (byte)'\f' or (byte)'\n' or (byte)'\r' or (byte)'\t' ? 2 : 6;
        }
        if (Rune.DecodeFromUtf8(src, out _, out consumed) == OperationStatus.Done)
        {
            kind = 0;
            return consumed;
        }
        kind = 2;
        return 3;
    }

    /// <summary>Escaped length of <paramref name="src"/>; also appends it to <paramref name="dest"/> if given.</summary>
    static int Escape(ReadOnlySpan<byte> src, LogFile? dest)
    {
        int total = 0, run = 0, i = 0;
        Span<byte> esc = stackalloc byte[6];
        while (i < src.Length)
        {
            int len = Next(src[i..], out int consumed, out int kind);
            total += len;
            if (kind == 0)
            {
                run += consumed;
                i += consumed;
                continue;
            }
            if (dest is not null)
            {
                dest.Append(src.Slice(i - run, run));
                if (kind == 2) dest.Append(Replacement);
                else dest.Append(esc[..EscapeAscii(src[i], esc)]);
            }
            run = 0;
            i += consumed;
        }
        dest?.Append(src.Slice(i - run, run));
        return total;
    }

    static int EscapeAscii(byte b, Span<byte> esc)
    {
        esc[0] = (byte)'\\';
        byte short_ = b switch
        {
            (byte)'"' => (byte)'"', (byte)'\\' => (byte)'\\', (byte)'\b' => (byte)'b', (byte)'\f' => (byte)'f',
            (byte)'\n' => (byte)'n', (byte)'\r' => (byte)'r', (byte)'\t' => (byte)'t', _ => 0,
        };
        if (short_ != 0)
        {
            esc[1] = short_;
            return 2;
        }
        "u00"u8.CopyTo(esc[1..]);
        esc[4] = Hex[b >> 4];
        esc[5] = Hex[b & 0xF];
        return 6;
    }

    static int FormatDecimal(long value, Span<byte> dest)
    {
        value.TryFormat(dest, out int n, default, System.Globalization.CultureInfo.InvariantCulture);
        return n;
    }

    public void Sync() => file.Sync();

    public void Reopen() => file.Reopen();

    public void Dispose() => file.Dispose();
}
