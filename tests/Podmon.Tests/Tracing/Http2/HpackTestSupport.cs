using System.Text;
using Podmon.Tracing.Http2;

namespace Podmon.Tests.Tracing.Http2;

/// <summary>Collects decoded fields as Latin-1 strings (one char per octet, so any bytes round-trip).</summary>
sealed class HeaderList : IHeaderSink
{
    public readonly List<(string Name, string Value)> Fields = [];
    public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) =>
        Fields.Add((Encoding.Latin1.GetString(name), Encoding.Latin1.GetString(value)));
}

/// <summary>
/// A tiny HPACK encoder for building test inputs: integers, raw and Huffman strings, the field
/// representations. Written from RFC 7541 §5-6 independently of the decoder; only the code table
/// (data) is shared.
/// </summary>
static class HpackWire
{
    public static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", ""));

    public static byte[] Latin1(string s) => Encoding.Latin1.GetBytes(s);

    /// <summary>§5.1: <paramref name="flags"/> in the bits above an N-bit prefix.</summary>
    public static void Integer(List<byte> o, byte flags, int prefixBits, int value)
    {
        int max = (1 << prefixBits) - 1;
        if (value < max) { o.Add((byte)(flags | value)); return; }
        o.Add((byte)(flags | max));
        value -= max;
        while (value >= 128) { o.Add((byte)(value % 128 + 128)); value /= 128; }
        o.Add((byte)value);
    }

    /// <summary>§5.2.</summary>
    public static void String(List<byte> o, byte[] s, bool huffman)
    {
        byte[] body = huffman ? HuffmanEncode(s) : s;
        Integer(o, huffman ? (byte)0x80 : (byte)0, 7, body.Length);
        o.AddRange(body);
    }

    /// <summary>§5.2 with Appendix B: codes MSB first, the last octet padded with the EOS prefix (ones).</summary>
    public static byte[] HuffmanEncode(ReadOnlySpan<byte> s)
    {
        var o = new List<byte>();
        ulong bits = 0;
        int count = 0;
        foreach (byte b in s)
        {
            bits = (bits << HuffmanTable.Lengths[b]) | HuffmanTable.Codes[b];
            count += HuffmanTable.Lengths[b];
            while (count >= 8) { count -= 8; o.Add((byte)(bits >> count)); }
        }
        if (count > 0) o.Add((byte)((bits << (8 - count)) | (0xffu >> count)));
        return [.. o];
    }

    /// <summary>§6.1.</summary>
    public static void Indexed(List<byte> o, int index) => Integer(o, 0x80, 7, index);

    /// <summary>§6.2: kind 0x40 incremental indexing, 0x00 without, 0x10 never; nameIndex 0 for a literal name.</summary>
    public static void Literal(List<byte> o, byte kind, int nameIndex, byte[]? name, byte[] value, bool huffmanName, bool huffmanValue)
    {
        Integer(o, kind, kind == 0x40 ? 6 : 4, nameIndex);
        if (nameIndex == 0) String(o, name!, huffmanName);
        String(o, value, huffmanValue);
    }

    /// <summary>§6.3.</summary>
    public static void SizeUpdate(List<byte> o, int size) => Integer(o, 0x20, 5, size);

    /// <summary>The dynamic table's entries, newest first.</summary>
    public static List<(string Name, string Value)> Table(HpackDecoder d)
    {
        var entries = new List<(string, string)>();
        for (int i = 0; i < d.DynamicTable.Count; i++)
        {
            d.DynamicTable.Get(i, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value);
            entries.Add((Encoding.Latin1.GetString(name), Encoding.Latin1.GetString(value)));
        }
        return entries;
    }
}
