namespace Podmon.Tracing.Http2;

/// <summary>
/// Decodes HPACK header blocks (RFC 7541) for one HTTP/2 connection's receiving side: the dynamic
/// table lives as long as the connection, so one decoder takes every block the peer sends, in order.
/// The maximum given here is the SETTINGS_HEADER_TABLE_SIZE this side advertises; the peer's size
/// updates may lower the table below it, never raise it above. Fields reach the sink as spans into
/// the block, the tables or one reusable Huffman buffer, so a block decodes without allocating.
/// Malformed input throws <see cref="HpackException"/>, after which the connection is done with
/// (COMPRESSION_ERROR): the table may hold part of the failed block. The caller bounds the block
/// (HEADERS plus CONTINUATION, by its header list limit); the Huffman buffer grows to 8/5 of the
/// longest Huffman-coded string seen.
/// </summary>
public sealed class HpackDecoder
{
    /// <summary>The largest table this decoder accepts (16 MiB); the table's storage is twice it.</summary>
    internal const int MaxTableSizeLimit = 1 << 24;

    readonly HpackDynamicTable _table;
    byte[] _scratch = new byte[256];
    int _scratchUsed;

    public HpackDecoder(int maxDynamicTableSize = 4096)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxDynamicTableSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxDynamicTableSize, MaxTableSizeLimit);
        _table = new HpackDynamicTable(maxDynamicTableSize);
    }

    internal HpackDynamicTable DynamicTable => _table;

    /// <summary>Decodes one whole header block (HEADERS and its CONTINUATION fragments joined).</summary>
    public void Decode(ReadOnlySpan<byte> headerBlock, IHeaderSink sink)
    {
        int pos = 0;
        bool fieldSeen = false;
        while (pos < headerBlock.Length)
        {
            byte b = headerBlock[pos];
            _scratchUsed = 0;
            if ((b & 0x80) != 0) // §6.1 indexed header field
            {
                int index = ReadInteger(headerBlock, ref pos, 7);
                if (index == 0) throw new HpackException("hpack: index 0 in an indexed header field (indices start at 1)");
                Lookup(index, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value);
                sink.OnHeader(name, value);
            }
            else if ((b & 0x40) != 0) // §6.2.1 literal with incremental indexing
            {
                Literal(headerBlock, ref pos, 6, sink, addToTable: true);
            }
            else if ((b & 0x20) != 0) // §6.3 dynamic table size update
            {
                if (fieldSeen)
                    throw new HpackException("hpack: dynamic table size update after a header field (allowed only at the start of a block)");
                int size = ReadInteger(headerBlock, ref pos, 5);
                if (size > _table.Limit)
                    throw new HpackException($"hpack: dynamic table size update to {size} exceeds the limit of {_table.Limit}");
                _table.SetMaxSize(size);
                continue;
            }
            else // §6.2.2 without indexing (0000), §6.2.3 never indexed (0001): the same to a decoder
            {
                Literal(headerBlock, ref pos, 4, sink, addToTable: false);
            }
            fieldSeen = true;
        }
    }

    void Literal(ReadOnlySpan<byte> block, ref int pos, int prefixBits, IHeaderSink sink, bool addToTable)
    {
        int nameIndex = ReadInteger(block, ref pos, prefixBits);
        ReadOnlySpan<byte> name;
        if (nameIndex == 0) name = ReadString(block, ref pos, "name");
        else Lookup(nameIndex, out name, out _);
        ReadOnlySpan<byte> value = ReadString(block, ref pos, "value");
        sink.OnHeader(name, value);
        if (addToTable) _table.Add(name, value);
    }

    void Lookup(int index, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        if (index <= HpackStaticTable.Count)
        {
            HpackStaticTable.Get(index, out name, out value);
            return;
        }
        int dynamic = index - HpackStaticTable.Count - 1;
        if (dynamic >= _table.Count)
            throw new HpackException(
                $"hpack: index {index} out of range (the tables hold {HpackStaticTable.Count} static and {_table.Count} dynamic entries)");
        _table.Get(dynamic, out name, out value);
    }

    /// <summary>§5.2: a length-prefixed string, raw (a slice of the block) or Huffman-coded (decoded into the scratch buffer).</summary>
    ReadOnlySpan<byte> ReadString(ReadOnlySpan<byte> block, scoped ref int pos, string what)
    {
        if (pos >= block.Length) throw new HpackException($"hpack: block ends before the header {what}");
        bool huffman = (block[pos] & 0x80) != 0;
        int length = ReadInteger(block, ref pos, 7);
        if (length > block.Length - pos)
            throw new HpackException($"hpack: header {what} of {length} bytes overruns the block ({block.Length - pos} bytes left)");
        ReadOnlySpan<byte> raw = block.Slice(pos, length);
        pos += length;
        if (!huffman) return raw;

        int room = Huffman.MaxDecodedLength(length);
        if (_scratch.Length - _scratchUsed < room)
        {
            // The name may already be in the buffer: it stays valid in the old array, still referenced by its span.
            byte[] grown = new byte[Math.Max(_scratchUsed + room, 2 * _scratch.Length)];
            _scratch.AsSpan(0, _scratchUsed).CopyTo(grown);
            _scratch = grown;
        }
        int n = Huffman.Decode(raw, _scratch.AsSpan(_scratchUsed, room));
        ReadOnlySpan<byte> decoded = _scratch.AsSpan(_scratchUsed, n);
        _scratchUsed += n;
        return decoded;
    }

    /// <summary>§5.1: an integer with an N-bit prefix, at most int.MaxValue.</summary>
    static int ReadInteger(ReadOnlySpan<byte> block, scoped ref int pos, int prefixBits)
    {
        int max = (1 << prefixBits) - 1;
        int value = block[pos++] & max;
        if (value < max) return value;
        long acc = value;
        for (int shift = 0; ; shift += 7)
        {
            if (pos >= block.Length) throw new HpackException("hpack: block ends inside an integer");
            byte b = block[pos++];
            acc += (long)(b & 0x7f) << shift;
            if (acc > int.MaxValue) throw new HpackException($"hpack: integer exceeds {int.MaxValue}");
            if ((b & 0x80) == 0) return (int)acc;
            if (shift >= 28) throw new HpackException("hpack: integer longer than 5 continuation bytes");
        }
    }
}
