namespace Podmon.Tracing.Http2;

/// <summary>
/// Decodes HPACK Huffman strings (RFC 7541 §5.2) four bits at a time. The code tree's 256 internal
/// nodes are the decoder's states; a table built once from <see cref="HuffmanTable"/> gives, for each
/// state and nibble, the next state and the symbol completed on the way (at most one: no code is
/// shorter than 5 bits). Errors the RFC requires: EOS inside the string, padding longer than 7 bits,
/// and padding that is not all ones (a code cut short).
/// </summary>
internal static class Huffman
{
    const int Emit = 1 << 16, HitEos = 1 << 17;
    const int States = 256;

    /// <summary>state * 16 + nibble: next state (bits 0-7), symbol (8-15), Emit, HitEos.</summary>
    static readonly int[] s_next = new int[States * 16];

    /// <summary>Per state, whether a string may end there: 0 yes, else the padding error.</summary>
    static readonly byte[] s_end = new byte[States];
    const byte EndOk = 0, EndTooLong = 1, EndNotOnes = 2;

    static Huffman()
    {
        // child[node * 2 + bit]: an internal node (> 0), a leaf ~symbol (< 0), 0 if absent (the root
        // is nobody's child). Depth and all-ones say whether a string may stop at a node (§5.2).
        Span<short> child = stackalloc short[States * 2];
        Span<byte> depth = stackalloc byte[States];
        Span<bool> ones = stackalloc bool[States];
        child.Clear();
        depth.Clear();
        ones.Clear();
        ones[0] = true;
        int nodes = 1;
        ReadOnlySpan<uint> codes = HuffmanTable.Codes;
        ReadOnlySpan<byte> lengths = HuffmanTable.Lengths;
        for (int sym = 0; sym <= HuffmanTable.Eos; sym++)
        {
            int node = 0;
            for (int i = lengths[sym] - 1; i > 0; i--)
            {
                int bit = (int)(codes[sym] >> i) & 1;
                ref short c = ref child[node * 2 + bit];
                if (c == 0)
                {
                    c = (short)nodes++;
                    depth[c] = (byte)(depth[node] + 1);
                    ones[c] = ones[node] && bit == 1;
                }
                node = c;
            }
            child[node * 2 + (int)(codes[sym] & 1)] = (short)~sym;
        }

        for (int state = 0; state < States; state++)
        {
            s_end[state] = !ones[state] ? EndNotOnes : depth[state] > 7 ? EndTooLong : EndOk;
            for (int nibble = 0; nibble < 16; nibble++)
            {
                int node = state, entry = 0;
                for (int k = 3; k >= 0; k--)
                {
                    int c = child[node * 2 + ((nibble >> k) & 1)];
                    if (c >= 0) { node = c; continue; }
                    if (~c == HuffmanTable.Eos) { entry |= HitEos; break; }
                    entry |= Emit | (~c << 8);
                    node = 0;
                }
                s_next[state * 16 + nibble] = entry | node;
            }
        }
    }

    /// <summary>The most octets <paramref name="encodedLength"/> octets can decode to (5-bit codes).</summary>
    public static int MaxDecodedLength(int encodedLength) => (int)((long)encodedLength * 8 / 5);

    /// <summary>
    /// Decodes <paramref name="source"/> into <paramref name="destination"/>, which holds at least
    /// <see cref="MaxDecodedLength"/> octets; returns the number written.
    /// </summary>
    public static int Decode(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        if (destination.Length < MaxDecodedLength(source.Length))
            throw new ArgumentException("destination shorter than the longest possible decoding", nameof(destination));
        int[] next = s_next;
        int state = 0, written = 0;
        foreach (byte b in source)
        {
            int e = next[(state << 4) | (b >> 4)];
            if ((e & (Emit | HitEos)) != 0)
            {
                if ((e & HitEos) != 0) throw EosInString();
                destination[written++] = (byte)(e >> 8);
            }
            e = next[((e & 0xff) << 4) | (b & 0xf)];
            if ((e & (Emit | HitEos)) != 0)
            {
                if ((e & HitEos) != 0) throw EosInString();
                destination[written++] = (byte)(e >> 8);
            }
            state = e & 0xff;
        }
        return s_end[state] switch
        {
            EndOk => written,
            EndTooLong => throw new HpackException("hpack: Huffman string padded with more than 7 bits"),
            _ => throw new HpackException("hpack: Huffman string ends inside a code (padding must be at most 7 one bits)"),
        };
    }

    static HpackException EosInString() => new("hpack: Huffman string contains the EOS symbol");
}
