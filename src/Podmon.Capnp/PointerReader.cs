using System.Buffers.Binary;
using System.Text;

namespace Podmon.Capnp;

/// <summary>
/// One pointer slot of a received message (also serves as AnyPointer). Far and double-far pointers
/// are followed transparently; every dereference is bounds-checked and charged to the traversal limit.
/// </summary>
public readonly ref struct PointerReader
{
    internal readonly ReadOnlySpan<byte> _msg;
    internal readonly ref ReadContext _ctx;
    internal readonly int _word;      // absolute word index of the pointer, -1 for an absent pointer
    internal readonly int _segStart;
    internal readonly int _segEnd;
    internal readonly int _nesting;   // remaining depth; dereferencing needs > 0

    internal PointerReader(ReadOnlySpan<byte> msg, ref ReadContext ctx, int word, int segStart, int segEnd, int nesting)
    {
        _msg = msg;
        _ctx = ref ctx;
        _word = word;
        _segStart = segStart;
        _segEnd = segEnd;
        _nesting = nesting;
    }

    private ulong Word => _word < 0 ? 0 : ReadWord(_msg, _word);

    public bool IsNull => Word == 0;

    /// <summary>Kind of the pointed-to object (following far pointers).</summary>
    public PointerKind Kind => IsNull ? PointerKind.Null : Resolve().Kind;

    /// <summary>The raw 64-bit pointer word as stored (far pointers not followed).</summary>
    public ulong RawWord => Word;

    public StructReader GetStruct()
    {
        if (IsNull)
            return new StructReader(_msg, ref _ctx, 0, 0, 0, 0, 0, 0, _nesting - 1);
        Resolved r = Resolve();
        if (r.Kind != PointerKind.Struct)
            Throw.Format($"expected a struct pointer, found a {r.Kind} pointer");
        CheckNesting();
        ushort data = Ptr.DataWords(r.Tag), ptrs = Ptr.PointerCount(r.Tag);
        if ((long)r.Target + data + ptrs > r.SegEnd || r.Target < r.SegStart)
            Throw.OutOfBounds();
        _ctx.Charge(data + ptrs);
        return new StructReader(_msg, ref _ctx, r.SegStart, r.SegEnd, r.Target * 8, data * 8, r.Target + data, ptrs, _nesting - 1);
    }

    public ListReader GetList()
    {
        if (IsNull)
            return new ListReader(_msg, ref _ctx, _nesting - 1);
        Resolved r = Resolve();
        if (r.Kind != PointerKind.List)
            Throw.Format($"expected a list pointer, found a {r.Kind} pointer");
        CheckNesting();
        return ListReader.FromPointer(_msg, ref _ctx, r, _nesting - 1);
    }

    /// <summary>Text as UTF-8 without the NUL terminator; empty for a null pointer.</summary>
    public ReadOnlySpan<byte> GetText()
    {
        ReadOnlySpan<byte> bytes = GetBytes("text");
        if (bytes.IsEmpty)
            return bytes;
        if (bytes[^1] != 0)
            Throw.Format("text is not NUL-terminated");
        return bytes[..^1];
    }

    public string GetTextString()
    {
        ReadOnlySpan<byte> t = GetText();
        return t.IsEmpty ? string.Empty : Encoding.UTF8.GetString(t);
    }

    /// <summary>Data bytes; empty for a null pointer.</summary>
    public ReadOnlySpan<byte> GetData() => GetBytes("data");

    public TextListReader GetTextList() => new(GetList());

    public PrimitiveListReader<T> GetList<T>() where T : unmanaged => new(GetList());

    /// <summary>The capability table index of a capability pointer.</summary>
    public uint GetCapability()
    {
        ulong w = Word;
        if (w == 0 || Ptr.Kind(w) != 3)
            Throw.Format("expected a capability pointer");
        if ((uint)w != 3)
            Throw.Format("unknown 'other' pointer type");
        return (uint)(w >> 32);
    }

    private ReadOnlySpan<byte> GetBytes(string what)
    {
        if (IsNull)
            return default;
        ListReader list = GetList();
        if (list.ElementSize != ElementSize.Byte)
            Throw.Format($"expected {what} (a byte list), found a {list.ElementSize} list");
        return list.RawBytes;
    }

    private void CheckNesting()
    {
        if (_nesting <= 0)
            Throw.NestingLimit();
    }

    internal Resolved Resolve()
    {
        ulong w = Word;
        Resolved r = default;
        switch (Ptr.Kind(w))
        {
            case 0:
            case 1:
                r.Tag = w;
                r.Target = (int)(_word + 1L + Ptr.Offset(w));
                r.SegStart = _segStart;
                r.SegEnd = _segEnd;
                if (_word + 1L + Ptr.Offset(w) < _segStart)
                    Throw.OutOfBounds();
                break;
            case 2:
                ResolveFar(w, ref r);
                break;
            default:
                if ((uint)w != 3)
                    Throw.Format("unknown 'other' pointer type");
                r.Kind = PointerKind.Capability;
                return r;
        }
        r.Kind = Ptr.Kind(r.Tag) == 0 ? PointerKind.Struct : PointerKind.List;
        return r;
    }

    private void ResolveFar(ulong w, ref Resolved r)
    {
        bool doubleFar = (w & 4) != 0;
        int pad = (int)((uint)w >> 3);
        _ctx.SegmentBounds((uint)(w >> 32), out int start, out int end);
        if ((long)start + pad + (doubleFar ? 2 : 1) > end)
            Throw.Format("far pointer landing pad is outside its segment");
        int padWord = start + pad;
        ulong landing = ReadWord(_msg, padWord);

        if (!doubleFar)
        {
            int kind = Ptr.Kind(landing);
            if (kind == 2)
                Throw.Format("far pointer landing pad is another far pointer");
            if (kind == 3)
                Throw.Format("far pointer to a capability");
            long target = padWord + 1L + Ptr.Offset(landing);
            if (target < start || target > end)
                Throw.OutOfBounds();
            r.Tag = landing;
            r.Target = (int)target;
            r.SegStart = start;
            r.SegEnd = end;
            return;
        }

        // Double far: the pad's first word is a far pointer to the object's start, the second its tag.
        if (Ptr.Kind(landing) != 2 || (landing & 4) != 0)
            Throw.Format("double-far landing pad does not start with a single far pointer");
        ulong tag = ReadWord(_msg, padWord + 1);
        if (Ptr.Kind(tag) > 1)
            Throw.Format("double-far landing pad tag is not a struct or list pointer");
        _ctx.SegmentBounds((uint)(landing >> 32), out int s2, out int e2);
        long t = s2 + (long)((uint)landing >> 3);
        if (t > e2)
            Throw.OutOfBounds();
        r.Tag = tag;
        r.Target = (int)t;
        r.SegStart = s2;
        r.SegEnd = e2;
    }

    internal static ulong ReadWord(ReadOnlySpan<byte> msg, int word) =>
        BinaryPrimitives.ReadUInt64LittleEndian(msg.Slice(word * 8, 8));
}
