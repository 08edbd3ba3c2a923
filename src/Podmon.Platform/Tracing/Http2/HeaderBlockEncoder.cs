using System.Text;

namespace Podmon.Tracing.Http2;

/// <summary>
/// The request side of HPACK (RFC 7541), as small as the protocol allows: every field is a
/// "literal header field without indexing — new name" (section 6.2.2) with plain (not Huffman)
/// strings, so this side never touches the peer's dynamic table and needs no state. A gRPC request
/// has seven short fields; compressing them would save a few dozen bytes per export.
/// </summary>
public static class HeaderBlockEncoder
{
    /// <summary>Appends one field to <paramref name="block"/>; names must be lowercase ASCII (HTTP/2 requires it).</summary>
    public static void Add(List<byte> block, string name, string value)
    {
        block.Add(0x00);
        AddString(block, name);
        AddString(block, value);
    }

    static void AddString(List<byte> block, string s)
    {
        int n = Encoding.UTF8.GetByteCount(s);
        AddInteger(block, 0x00, 7, n); // H = 0: not Huffman-coded
        Span<byte> bytes = n <= 256 ? stackalloc byte[n] : new byte[n];
        Encoding.UTF8.GetBytes(s, bytes);
        foreach (byte b in bytes) block.Add(b);
    }

    /// <summary>An integer with an N-bit prefix (section 5.1); <paramref name="high"/> holds the bits above the prefix.</summary>
    public static void AddInteger(List<byte> block, byte high, int prefixBits, int value)
    {
        int max = (1 << prefixBits) - 1;
        if (value < max)
        {
            block.Add((byte)(high | value));
            return;
        }
        block.Add((byte)(high | max));
        value -= max;
        while (value >= 0x80)
        {
            block.Add((byte)(value & 0x7f | 0x80));
            value >>= 7;
        }
        block.Add((byte)value);
    }
}
