using System.Buffers;
using System.Text;

namespace Podmon.Logging;

/// <summary>Where escaped bytes go, run by run (a log file, a buffer).</summary>
public interface IByteSink
{
    void Append(ReadOnlySpan<byte> bytes);
}

/// <summary>
/// JSON string escaping of UTF-8 bytes, the way serde_json does it (conmon-rs's JSON log driver):
/// '"' '\' and the short forms \b \f \n \r \t, other control bytes as \u00XX, invalid UTF-8 as
/// U+FFFD, everything else as is. Runs of plain bytes go to the sink uncopied. The one escaper for
/// container JSON logs and for the JSON podmon writes itself (sync pipe, --version-json).
/// </summary>
public static class JsonEscape
{
    static ReadOnlySpan<byte> Replacement => "\uFFFD"u8;
    static ReadOnlySpan<byte> Hex => "0123456789abcdef"u8;

    /// <summary>Escaped length of <paramref name="src"/>.</summary>
    public static int Length(ReadOnlySpan<byte> src)
    {
        int total = 0;
        for (int i = 0; i < src.Length;)
        {
            total += Next(src[i..], out int consumed, out _);
            i += consumed;
        }
        return total;
    }

    /// <summary>How many bytes of <paramref name="src"/> fit in <paramref name="room"/> escaped bytes (at least one character).</summary>
    public static int Fit(ReadOnlySpan<byte> src, long room)
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

    /// <summary>Appends <paramref name="src"/> escaped (without quotes) to <paramref name="dest"/>.</summary>
    public static void Write<TSink>(ReadOnlySpan<byte> src, TSink dest) where TSink : IByteSink
    {
        int run = 0, i = 0;
        Span<byte> esc = stackalloc byte[6];
        while (i < src.Length)
        {
            Next(src[i..], out int consumed, out int kind);
            if (kind == Plain)
            {
                run += consumed;
                i += consumed;
                continue;
            }
            dest.Append(src.Slice(i - run, run));
            dest.Append(kind == Invalid ? Replacement : esc[..EscapeAscii(src[i], esc)]);
            run = 0;
            i += consumed;
        }
        dest.Append(src.Slice(i - run, run));
    }

    /// <summary>A JSON string literal (quoted) of <paramref name="s"/>.</summary>
    public static string Quote(string s)
    {
        var sink = new BufferSink(new ArrayBufferWriter<byte>(s.Length + 8));
        sink.Append("\""u8);
        Write(Encoding.UTF8.GetBytes(s), sink);
        sink.Append("\""u8);
        return Encoding.UTF8.GetString(sink.Buffer.WrittenSpan);
    }

    readonly struct BufferSink(ArrayBufferWriter<byte> buffer) : IByteSink
    {
        public ArrayBufferWriter<byte> Buffer => buffer;
        public void Append(ReadOnlySpan<byte> bytes) => buffer.Write(bytes);
    }

    const int Plain = 0, Escaped = 1, Invalid = 2;

    /// <summary>Escaped length of the character at the start of <paramref name="src"/>.</summary>
    static int Next(ReadOnlySpan<byte> src, out int consumed, out int kind)
    {
        byte b = src[0];
        if (b < 0x80)
        {
            consumed = 1;
            kind = b is (byte)'"' or (byte)'\\' || b < 0x20 ? Escaped : Plain;
            return kind == Plain ? 1 : b is (byte)'"' or (byte)'\\' or (byte)'\b' or (byte)'\f' or (byte)'\n' or (byte)'\r' or (byte)'\t' ? 2 : 6;
        }
        if (Rune.DecodeFromUtf8(src, out _, out consumed) == OperationStatus.Done)
        {
            kind = Plain;
            return consumed;
        }
        kind = Invalid;
        return 3;
    }

    static int EscapeAscii(byte b, Span<byte> esc)
    {
        esc[0] = (byte)'\\';
        byte shortForm = b switch
        {
            (byte)'"' => (byte)'"', (byte)'\\' => (byte)'\\', (byte)'\b' => (byte)'b', (byte)'\f' => (byte)'f',
            (byte)'\n' => (byte)'n', (byte)'\r' => (byte)'r', (byte)'\t' => (byte)'t', _ => 0,
        };
        if (shortForm != 0)
        {
            esc[1] = shortForm;
            return 2;
        }
        "u00"u8.CopyTo(esc[1..]);
        esc[4] = Hex[b >> 4];
        esc[5] = Hex[b & 0xF];
        return 6;
    }
}
