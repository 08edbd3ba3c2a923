using System.Text;

namespace Podmon.Capnp;

/// <summary>
/// One pointer slot of a message being built (also serves as AnyPointer). Setting a pointer that
/// already points somewhere abandons the old object (its words stay in the message, zeroed or not).
/// </summary>
public readonly partial struct PointerBuilder
{
    internal readonly MessageBuilder _m;
    internal readonly int _word;

    internal PointerBuilder(MessageBuilder m, int word)
    {
        _m = m;
        _word = word;
    }

    public bool IsNull => _m.ReadWord(_word) == 0;

    public void SetNull() => _m.WriteWord(_word, 0);

    public void SetCapability(uint index) => _m.WriteWord(_word, Ptr.Capability(index));

    /// <summary>
    /// Allocates a struct and points here. A zero-sized struct takes no space and is encoded as
    /// offset −1 (<c>fc ff ff ff 00 00 00 00</c>) so it is distinguishable from null.
    /// </summary>
    public StructBuilder InitStruct(ushort dataWords, ushort pointerCount)
    {
        if (dataWords + pointerCount == 0)
        {
            _m.WriteWord(_word, Ptr.ZeroSizedStruct);
            return new StructBuilder(_m, _word, 0, 0);
        }
        int at = _m.Allocate(dataWords + pointerCount);
        _m.WriteWord(_word, Ptr.Struct(at - _word - 1, dataWords, pointerCount));
        return new StructBuilder(_m, at, dataWords, pointerCount);
    }

    /// <summary>A list of non-struct elements (use <see cref="InitStructList"/> for structs).</summary>
    public ListBuilder InitList(ElementSize size, int count)
    {
        if (size == ElementSize.InlineComposite)
            Throw.Argument("use InitStructList for composite lists");
        CheckCount(count);
        int bits = ElementSizes.BitsPerElement(size);
        int at = _m.Allocate((count * (long)bits + 63) / 64);
        _m.WriteWord(_word, Ptr.List(at - _word - 1, size, (uint)count));
        bool pointers = size == ElementSize.Pointer;
        return new ListBuilder(_m, at, count, bits, pointers ? 0 : bits, pointers ? 1 : 0, size);
    }

    /// <summary>A composite list: tag word followed by <paramref name="count"/> structs.</summary>
    public ListBuilder InitStructList(int count, ushort dataWords, ushort pointerCount)
    {
        CheckCount(count);
        long words = (long)count * (dataWords + pointerCount);
        if (words >= 1 << 29)
            Throw.Argument("composite list too large");
        int at = _m.Allocate(words + 1);
        _m.WriteWord(at, Ptr.Struct(count, dataWords, pointerCount));
        _m.WriteWord(_word, Ptr.List(at - _word - 1, ElementSize.InlineComposite, (uint)words));
        return new ListBuilder(_m, at + 1, count, (dataWords + pointerCount) * 64, dataWords * 64, pointerCount,
            ElementSize.InlineComposite);
    }

    public TextListBuilder InitTextList(int count) => new(InitList(ElementSize.Pointer, count));

    public PrimitiveListBuilder<T> InitList<T>(int count) where T : unmanaged =>
        new(InitList(ElementSizes.ForByteWidth(System.Runtime.CompilerServices.Unsafe.SizeOf<T>()), count));

    /// <summary>Text from UTF-8 (without NUL; the terminator is added).</summary>
    public void SetText(ReadOnlySpan<byte> utf8) => utf8.CopyTo(InitBytes(utf8.Length + 1));

    /// <summary>Text from UTF-16, encoded straight into the message (lone surrogates become U+FFFD).</summary>
    public void SetText(ReadOnlySpan<char> text)
    {
        int n = Encoding.UTF8.GetByteCount(text);
        Encoding.UTF8.GetBytes(text, InitBytes(n + 1));
    }

    public void SetData(ReadOnlySpan<byte> data) => data.CopyTo(InitBytes(data.Length));

    /// <summary>Allocates a Data field of <paramref name="length"/> bytes to fill in place (valid until the next allocation).</summary>
    public Span<byte> InitData(int length) => InitBytes(length);

    private Span<byte> InitBytes(int count)
    {
        CheckCount(count);
        int words = (int)((count + 7L) / 8);
        int at = _m.Allocate(words);
        _m.WriteWord(_word, Ptr.List(at - _word - 1, ElementSize.Byte, (uint)count));
        return _m.Bytes(at, 0, count);
    }

    private static void CheckCount(int count)
    {
        if ((uint)count >= 1u << 29)
            Throw.Argument($"list element count {count} out of range");
    }
}
