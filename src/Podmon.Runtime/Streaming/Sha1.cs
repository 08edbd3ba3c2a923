using System.Buffers.Binary;
using System.Numerics;

namespace Podmon.Streaming;

/// <summary>
/// SHA-1 (FIPS 180-4), only for Sec-WebSocket-Accept (RFC 6455 §4.2.2, not a security use).
/// Written here because System.Security.Cryptography reaches SHA-1 through OpenSSL, which a
/// static NativeAOT binary cannot load.
/// </summary>
static class Sha1
{
    public const int HashSize = 20;

    public static void Hash(ReadOnlySpan<byte> data, Span<byte> hash)
    {
        Span<uint> h = stackalloc uint[5];
        h[0] = 0x67452301;
        h[1] = 0xEFCDAB89;
        h[2] = 0x98BADCFE;
        h[3] = 0x10325476;
        h[4] = 0xC3D2E1F0;
        Span<uint> w = stackalloc uint[80];
        Span<byte> tail = stackalloc byte[128];
        int full = data.Length / 64 * 64;
        for (int i = 0; i < full; i += 64) Block(data.Slice(i, 64), h, w);
        // Padding: 0x80, zeros, the length in bits (big-endian) in the last 8 bytes of one or two blocks.
        int rest = data.Length - full;
        data[full..].CopyTo(tail);
        tail[rest..].Clear();
        tail[rest] = 0x80;
        int tailLength = rest < 56 ? 64 : 128;
        BinaryPrimitives.WriteUInt64BigEndian(tail[(tailLength - 8)..], (ulong)data.Length * 8);
        for (int i = 0; i < tailLength; i += 64) Block(tail.Slice(i, 64), h, w);
        for (int i = 0; i < 5; i++) BinaryPrimitives.WriteUInt32BigEndian(hash[(i * 4)..], h[i]);
    }

    static void Block(ReadOnlySpan<byte> block, Span<uint> h, Span<uint> w)
    {
        for (int t = 0; t < 16; t++) w[t] = BinaryPrimitives.ReadUInt32BigEndian(block[(t * 4)..]);
        for (int t = 16; t < 80; t++) w[t] = BitOperations.RotateLeft(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
        uint a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int t = 0; t < 80; t++)
        {
            uint f, k;
            if (t < 20) { f = (b & c) | (~b & d); k = 0x5A827999; }
            else if (t < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1; }
            else if (t < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC; }
            else { f = b ^ c ^ d; k = 0xCA62C1D6; }
            uint temp = BitOperations.RotateLeft(a, 5) + f + e + k + w[t];
            e = d;
            d = c;
            c = BitOperations.RotateLeft(b, 30);
            b = a;
            a = temp;
        }
        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
        h[4] += e;
    }
}
