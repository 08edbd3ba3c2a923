namespace Podmon.Tracing.Http2;

/// <summary>
/// The dynamic table of RFC 7541 §2.3.2 and §4: newest entry first (index 0 here is HPACK index 62),
/// an entry's size its name and value lengths plus 32, the oldest entries evicted while the size
/// exceeds the maximum. All storage is allocated up front for the largest maximum the decoder
/// allows, so adding an entry allocates nothing: the bytes go into one buffer of twice that maximum,
/// appended at its tail and moved to the front when the tail runs out (live bytes never exceed the
/// maximum, so after the move the new entry always fits), and the entries' positions into a ring.
/// </summary>
internal sealed class HpackDynamicTable
{
    /// <summary>RFC 7541 §4.1: the 32 octets an entry is charged beyond its name and value.</summary>
    public const int EntryOverhead = 32;

    readonly byte[] _bytes;
    readonly Entry[] _ring;
    int _oldest, _count;
    int _start, _end; // live bytes: _bytes[_start.._end), oldest entry first

    readonly record struct Entry(int Offset, int NameLength, int ValueLength)
    {
        public int Size => NameLength + ValueLength + EntryOverhead;
    }

    public HpackDynamicTable(int limit)
    {
        Limit = limit;
        MaxSize = limit;
        _bytes = new byte[2 * limit];
        _ring = new Entry[Math.Max(1, limit / EntryOverhead)];
    }

    /// <summary>The largest maximum a size update may set: the decoder's SETTINGS_HEADER_TABLE_SIZE.</summary>
    public int Limit { get; }

    /// <summary>The current maximum size (§4.2), at most <see cref="Limit"/>.</summary>
    public int MaxSize { get; private set; }

    /// <summary>The current size (§4.1): the sum of the entries' sizes.</summary>
    public int Size { get; private set; }

    public int Count => _count;

    /// <summary>Entry <paramref name="i"/>, 0 the newest; the spans last until the next Add.</summary>
    public void Get(int i, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        Entry e = _ring[(_oldest + _count - 1 - i) % _ring.Length];
        name = _bytes.AsSpan(e.Offset, e.NameLength);
        value = _bytes.AsSpan(e.Offset + e.NameLength, e.ValueLength);
    }

    /// <summary>A dynamic table size update (§6.3): the caller has checked it against the limit.</summary>
    public void SetMaxSize(int maxSize)
    {
        MaxSize = maxSize;
        while (Size > MaxSize) EvictOldest();
        MarkStart();
    }

    /// <summary>
    /// Inserts a field as the newest entry, evicting as §4.4 says; an entry larger than the maximum
    /// empties the table and is not added. The name may point into this table (a literal with an
    /// indexed name), even at an entry this insertion evicts: the bytes are copied before evicting.
    /// </summary>
    public void Add(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        long size = (long)name.Length + value.Length + EntryOverhead;
        if (size > MaxSize)
        {
            while (_count > 0) EvictOldest();
            MarkStart();
            return;
        }
        int length = name.Length + value.Length;
        if (_bytes.Length - _end < length) Compact(ref name);
        int offset = _end;
        name.CopyTo(_bytes.AsSpan(offset));
        value.CopyTo(_bytes.AsSpan(offset + name.Length));
        _end += length;
        while (Size + size > MaxSize) EvictOldest();
        _ring[(_oldest + _count) % _ring.Length] = new Entry(offset, name.Length, value.Length);
        _count++;
        Size += (int)size;
        MarkStart();
    }

    void EvictOldest()
    {
        Entry e = _ring[_oldest];
        _oldest = (_oldest + 1) % _ring.Length;
        _count--;
        Size -= e.Size;
    }

    /// <summary>After evictions: live bytes begin at the oldest entry; an empty table starts over at 0.</summary>
    void MarkStart()
    {
        if (_count == 0) _start = _end = 0;
        else _start = _ring[_oldest].Offset;
    }

    /// <summary>Moves the live bytes to the front of the buffer; a name inside them moves along.</summary>
    void Compact(ref ReadOnlySpan<byte> name)
    {
        int shift = _start;
        bool inTable = _bytes.AsSpan().Overlaps(name, out int nameOffset);
        _bytes.AsSpan(_start, _end - _start).CopyTo(_bytes);
        for (int k = 0; k < _count; k++)
        {
            ref Entry e = ref _ring[(_oldest + k) % _ring.Length];
            e = e with { Offset = e.Offset - shift };
        }
        _start = 0;
        _end -= shift;
        if (inTable) name = _bytes.AsSpan(nameOffset - shift, name.Length);
    }
}
