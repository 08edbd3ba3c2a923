using System.Text;
using CsCheck;
using Podmon.Tracing.Http2;
using static Podmon.Tests.Tracing.Http2.HpackWire;

namespace Podmon.Tests.Tracing.Http2;

/// <summary>The Appendix B code table is the RFC's, and the decoder inverts the encoder.</summary>
public class HuffmanTests
{
    [Fact]
    public void The_code_is_complete_and_canonical()
    {
        ReadOnlySpan<uint> codes = HuffmanTable.Codes;
        ReadOnlySpan<byte> lengths = HuffmanTable.Lengths;
        Assert.Equal(257, codes.Length);
        Assert.Equal(257, lengths.Length);
        long kraft = 0;
        for (int s = 0; s < 257; s++)
        {
            Assert.InRange(lengths[s], 5, 30);
            Assert.True(codes[s] < 1u << lengths[s], $"symbol {s}: code wider than its length");
            kraft += 1L << (30 - lengths[s]);
        }
        Assert.Equal(1L << 30, kraft); // every bit string is a code or a prefix of one
        // Canonical: ordered by (length, symbol), each code is the previous plus one, shifted to its length.
        int[] order = [.. Enumerable.Range(0, 257).OrderBy(s => HuffmanTable.Lengths[s]).ThenBy(s => s)];
        ulong expected = 0;
        for (int i = 0; i < order.Length; i++)
        {
            if (i > 0) expected = (expected + 1) << (lengths[order[i]] - lengths[order[i - 1]]);
            Assert.Equal(expected, codes[order[i]]);
        }
    }

    [Theory] // rows of RFC 7541 Appendix B
    [InlineData(0, 0x1ff8u, 13)]
    [InlineData(10, 0x3ffffffcu, 30)]
    [InlineData(' ', 0x14u, 6)]
    [InlineData('0', 0x0u, 5)]
    [InlineData('A', 0x21u, 6)]
    [InlineData('a', 0x3u, 5)]
    [InlineData('~', 0x1ffdu, 13)]
    [InlineData(255, 0x3ffffeeu, 26)]
    [InlineData(256, 0x3fffffffu, 30)]
    public void Rows_match_the_RFC(int symbol, uint code, int length)
    {
        Assert.Equal(code, HuffmanTable.Codes[symbol]);
        Assert.Equal(length, HuffmanTable.Lengths[symbol]);
    }

    static string Decode(byte[] encoded)
    {
        byte[] buffer = new byte[Huffman.MaxDecodedLength(encoded.Length)];
        return Encoding.Latin1.GetString(buffer, 0, Huffman.Decode(encoded, buffer));
    }

    [Theory] // the Huffman-coded strings of RFC 7541 C.4 and C.6
    [InlineData("f1e3 c2e5 f23a 6ba0 ab90 f4ff", "www.example.com")]
    [InlineData("a8eb 1064 9cbf", "no-cache")]
    [InlineData("25a8 49e9 5ba9 7d7f", "custom-key")]
    [InlineData("25a8 49e9 5bb8 e8b4 bf", "custom-value")]
    [InlineData("6402", "302")]
    [InlineData("aec3 771a 4b", "private")]
    [InlineData("d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff", "Mon, 21 Oct 2013 20:13:21 GMT")]
    [InlineData("9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3", "https://www.example.com")]
    [InlineData("9bd9 ab", "gzip")]
    [InlineData("", "")]
    public void Decodes_the_RFC_strings(string hex, string text)
    {
        Assert.Equal(text, Decode(Hex(hex)));
        Assert.Equal(Hex(hex), HuffmanEncode(Latin1(text))); // and the test encoder agrees with the RFC
    }

    [Fact]
    public void Every_octet_round_trips_including_the_30_bit_codes()
    {
        byte[] all = [.. Enumerable.Range(0, 256).Select(i => (byte)i)];
        Assert.Equal(Encoding.Latin1.GetString(all), Decode(HuffmanEncode(all)));
    }

    [Fact]
    public void Round_trip_property() =>
        Gen.Byte.Array[0, 300].Sample(s =>
        {
            byte[] encoded = HuffmanEncode(s);
            byte[] buffer = new byte[Huffman.MaxDecodedLength(encoded.Length)];
            int n = Huffman.Decode(encoded, buffer);
            Assert.Equal(s, buffer.AsSpan(0, n).ToArray());
        }, iter: 5_000);

    [Fact]
    public void Random_input_decodes_or_raises_HpackException() =>
        Gen.Byte.Array[0, 40].Sample(s =>
        {
            byte[] buffer = new byte[Huffman.MaxDecodedLength(s.Length)];
            try
            {
                int n = Huffman.Decode(s, buffer);
                Assert.Equal(s, HuffmanEncode(buffer.AsSpan(0, n))); // a valid code decodes to what re-encodes to it
            }
            catch (HpackException) { }
        }, iter: 20_000);
}
