using System.Buffers.Binary;

namespace Podmon.Capnp;

/// <summary>
/// A list in a received message, of any element size. Elements are read with the accessor matching the
/// schema; compatible encodings are accepted per the spec's upgrade rules (e.g. structs from primitive
/// or pointer lists, primitives or pointers from the first field of composite elements).
/// </summary>
public readonly ref struct ListReader
{
    internal readonly ReadOnlySpan<byte> _msg;
    internal readonly ref ReadContext _ctx;
    internal readonly int _segStart;
    internal readonly int _segEnd;
    internal readonly int _startByte;  // absolute byte offset of element 0
    internal readonly int _count;
    internal readonly int _stepBits;
    internal readonly int _dataBits;   // data bits per element
    internal readonly int _ptrs;       // pointers per element
    internal readonly ElementSize _size;
    internal readonly int _nesting;

    /// <summary>An empty list (what a null pointer reads as).</summary>
    internal ListReader(ReadOnlySpan<byte> msg, ref ReadContext ctx, int nesting)
    {
        _msg = msg;
        _ctx = ref ctx;
        _nesting = nesting;
    }

    private ListReader(ReadOnlySpan<byte> msg, ref ReadContext ctx, scoped in Resolved r, int startByte, int count,
        int stepBits, int dataBits, int ptrs, ElementSize size, int nesting)
    {
        _msg = msg;
        _ctx = ref ctx;
        _segStart = r.SegStart;
        _segEnd = r.SegEnd;
        _startByte = startByte;
        _count = count;
        _stepBits = stepBits;
        _dataBits = dataBits;
        _ptrs = ptrs;
        _size = size;
        _nesting = nesting;
    }

    internal static ListReader FromPointer(ReadOnlySpan<byte> msg, ref ReadContext ctx, scoped in Resolved r, int nesting)
    {
        ElementSize size = Ptr.ElemSize(r.Tag);
        uint count = Ptr.ListCount(r.Tag);
        if (r.Target < r.SegStart)
            Throw.OutOfBounds();

        if (size == ElementSize.InlineComposite)
        {
            if ((long)r.Target + 1 + count > r.SegEnd)
                Throw.OutOfBounds();
            ulong tag = PointerReader.ReadWord(msg, r.Target);
            if (Ptr.Kind(tag) != 0)
                Throw.Format("composite list tag is not a struct tag");
            int elements = Ptr.Offset(tag);
            if (elements < 0)
                Throw.Format("composite list tag has a negative element count");
            int d = Ptr.DataWords(tag), p = Ptr.PointerCount(tag);
            long perElement = d + p;
            if (elements * perElement > count)
                Throw.Format("composite list elements overrun the list's word count");
            // Zero-sized elements still cost a word each, so a huge list of empty structs cannot amplify.
            ctx.Charge(perElement == 0 ? elements : count);
            return new ListReader(msg, ref ctx, r, (r.Target + 1) * 8, elements, (int)perElement * 64, d * 64, p,
                size, nesting);
        }

        int bits = ElementSizes.BitsPerElement(size);
        long words = (count * (long)bits + 63) / 64;
        if (r.Target + words > r.SegEnd)
            Throw.OutOfBounds();
        ctx.Charge(size == ElementSize.Void ? count : words);
        bool pointers = size == ElementSize.Pointer;
        return new ListReader(msg, ref ctx, r, r.Target * 8, (int)count, bits, pointers ? 0 : bits, pointers ? 1 : 0,
            size, nesting);
    }

    public int Count => _count;

    /// <summary>Encoded element size (<see cref="ElementSize.InlineComposite"/> for struct lists with a tag word).</summary>
    public ElementSize ElementSize => _size;

    /// <summary>Data words per element of a composite list.</summary>
    public int StructDataWords => _dataBits / 64;

    /// <summary>Pointers per element of a composite list.</summary>
    public int StructPointerCount => _ptrs;

    /// <summary>The raw element bytes of a non-composite list (bit lists: padded to whole bytes).</summary>
    public ReadOnlySpan<byte> RawBytes => _msg.Slice(_startByte, (int)(((long)_count * _stepBits + 7) / 8));

    public StructReader GetStruct(int index)
    {
        CheckIndex(index);
        if (_size == ElementSize.Bit)
            Throw.Format("expected a struct list, found a bit list");
        long bit = (long)index * _stepBits;
        int ptrWord = (int)((_startByte * 8L + bit + _dataBits) / 64);
        return new StructReader(_msg, ref _ctx, _segStart, _segEnd, _startByte + (int)(bit / 8), _dataBits / 8,
            ptrWord, _ptrs, _nesting);
    }

    public PointerReader GetPointer(int index)
    {
        CheckIndex(index);
        if (_ptrs == 0)
            Throw.Format($"expected a list of pointers, found a {_size} list");
        int word = (int)((_startByte * 8L + (long)index * _stepBits + _dataBits) / 64);
        return new PointerReader(_msg, ref _ctx, word, _segStart, _segEnd, _nesting);
    }

    public ReadOnlySpan<byte> GetText(int index) => GetPointer(index).GetText();
    public string GetTextString(int index) => GetPointer(index).GetTextString();
    public ReadOnlySpan<byte> GetData(int index) => GetPointer(index).GetData();
    public ListReader GetList(int index) => GetPointer(index).GetList();

    public bool GetBool(int index)
    {
        CheckIndex(index);
        CheckData(1);
        long bit = _startByte * 8L + (long)index * _stepBits;
        return ((_msg[(int)(bit >> 3)] >> (int)(bit & 7)) & 1) != 0;
    }

    public byte GetUInt8(int index) => _msg[Element(index, 8)];
    public sbyte GetInt8(int index) => (sbyte)GetUInt8(index);
    public ushort GetUInt16(int index) => BinaryPrimitives.ReadUInt16LittleEndian(_msg.Slice(Element(index, 16)));
    public short GetInt16(int index) => (short)GetUInt16(index);
    public uint GetUInt32(int index) => BinaryPrimitives.ReadUInt32LittleEndian(_msg.Slice(Element(index, 32)));
    public int GetInt32(int index) => (int)GetUInt32(index);
    public ulong GetUInt64(int index) => BinaryPrimitives.ReadUInt64LittleEndian(_msg.Slice(Element(index, 64)));
    public long GetInt64(int index) => (long)GetUInt64(index);
    public float GetFloat32(int index) => BitConverter.UInt32BitsToSingle(GetUInt32(index));
    public double GetFloat64(int index) => BitConverter.UInt64BitsToDouble(GetUInt64(index));

    /// <summary>Byte offset of element <paramref name="index"/>, which must hold at least <paramref name="bits"/> data bits.</summary>
    internal int Element(int index, int bits)
    {
        CheckIndex(index);
        CheckData(bits);
        return _startByte + (int)((long)index * _stepBits / 8);
    }

    private void CheckData(int bits)
    {
        if (_dataBits < bits)
            Throw.Format($"expected list elements of at least {bits} data bits, found a {_size} list");
    }

    private void CheckIndex(int index)
    {
        if ((uint)index >= (uint)_count)
            Throw.ListIndex(index, _count);
    }

    public override string ToString() => $"list({_size}, {_count} elements)";
}
