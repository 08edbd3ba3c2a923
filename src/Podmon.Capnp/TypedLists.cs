using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Podmon.Capnp;

/// <summary>List(Text) view.</summary>
public readonly ref struct TextListReader
{
    private readonly ListReader _list;
    public TextListReader(ListReader list) => _list = list;
    public int Count => _list.Count;
    public ListReader List => _list;
    /// <summary>Element as UTF-8 without the NUL.</summary>
    public ReadOnlySpan<byte> this[int index] => _list.GetText(index);
    public string GetString(int index) => _list.GetTextString(index);
}

/// <summary>List of a primitive or enum type (1, 2, 4 or 8 bytes wide).</summary>
public readonly ref struct PrimitiveListReader<T> where T : unmanaged
{
    private readonly ListReader _list;
    public PrimitiveListReader(ListReader list) => _list = list;
    public int Count => _list.Count;
    public ListReader List => _list;

    public T this[int index]
    {
        get
        {
            int offset = _list.Element(index, Unsafe.SizeOf<T>() * 8);
            T value = MemoryMarshal.Read<T>(_list._msg.Slice(offset));
            return BitConverter.IsLittleEndian ? value : Swap(value);
        }
    }

    private static T Swap(T value)
    {
        Span<byte> b = MemoryMarshal.AsBytes(new Span<T>(ref value));
        b.Reverse();
        return value;
    }
}
