using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Podmon.Capnp;

/// <summary>A list being built.</summary>
public readonly struct ListBuilder
{
    internal readonly MessageBuilder _m;
    internal readonly int _startWord;
    internal readonly int _count;
    internal readonly int _stepBits;
    internal readonly int _dataBits;
    internal readonly int _ptrs;
    internal readonly ElementSize _size;

    internal ListBuilder(MessageBuilder m, int startWord, int count, int stepBits, int dataBits, int ptrs, ElementSize size)
    {
        _m = m;
        _startWord = startWord;
        _count = count;
        _stepBits = stepBits;
        _dataBits = dataBits;
        _ptrs = ptrs;
        _size = size;
    }

    public int Count => _count;
    public ElementSize ElementSize => _size;

    /// <summary>Element of a composite list.</summary>
    public StructBuilder GetStruct(int index)
    {
        CheckIndex(index);
        if (_size != ElementSize.InlineComposite)
            Throw.Argument("not a struct list");
        return new StructBuilder(_m, _startWord + index * (_stepBits / 64), (ushort)(_dataBits / 64), (ushort)_ptrs);
    }

    /// <summary>Element of a pointer list.</summary>
    public PointerBuilder GetPointer(int index)
    {
        CheckIndex(index);
        if (_size != ElementSize.Pointer)
            Throw.Argument("not a pointer list");
        return new PointerBuilder(_m, _startWord + index);
    }

    public void SetBool(int index, bool value)
    {
        CheckIndex(index);
        if (_size != ElementSize.Bit)
            Throw.Argument("not a bit list");
        Span<byte> b = _m.Bytes(_startWord, index >> 3, 1);
        int mask = 1 << (index & 7);
        b[0] = (byte)(value ? b[0] | mask : b[0] & ~mask);
    }

    public void SetUInt8(int index, byte value) => Element(index, 1)[0] = value;
    public void SetUInt16(int index, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(Element(index, 2), value);
    public void SetUInt32(int index, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Element(index, 4), value);
    public void SetUInt64(int index, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Element(index, 8), value);

    /// <summary>All element bytes of a non-composite data list.</summary>
    public Span<byte> RawBytes => _m.Bytes(_startWord, 0, (int)(((long)_count * _stepBits + 7) / 8));

    internal Span<byte> Element(int index, int bytes)
    {
        CheckIndex(index);
        if (_size == ElementSize.InlineComposite || _size == ElementSize.Pointer || _dataBits != bytes * 8)
            Throw.Argument($"list of {_size} does not hold {bytes}-byte elements");
        return _m.Bytes(_startWord, index * bytes, bytes);
    }

    private void CheckIndex(int index)
    {
        if ((uint)index >= (uint)_count)
            Throw.Argument($"list index {index} out of range (count {_count})");
    }
}

/// <summary>List(Text) being built.</summary>
public readonly struct TextListBuilder
{
    private readonly ListBuilder _list;
    public TextListBuilder(ListBuilder list) => _list = list;
    public int Count => _list.Count;
    public ListBuilder List => _list;
    public void Set(int index, ReadOnlySpan<byte> utf8) => _list.GetPointer(index).SetText(utf8);
    public void Set(int index, ReadOnlySpan<char> text) => _list.GetPointer(index).SetText(text);
}

/// <summary>List of a primitive or enum type being built.</summary>
public readonly struct PrimitiveListBuilder<T> where T : unmanaged
{
    private readonly ListBuilder _list;
    public PrimitiveListBuilder(ListBuilder list) => _list = list;
    public int Count => _list.Count;
    public ListBuilder List => _list;

    public T this[int index]
    {
        get
        {
            T v = MemoryMarshal.Read<T>(_list.Element(index, Unsafe.SizeOf<T>()));
            return BitConverter.IsLittleEndian ? v : Swap(v);
        }
        set => MemoryMarshal.Write(_list.Element(index, Unsafe.SizeOf<T>()), BitConverter.IsLittleEndian ? value : Swap(value));
    }

    private static T Swap(T value)
    {
        MemoryMarshal.AsBytes(new Span<T>(ref value)).Reverse();
        return value;
    }
}
