namespace Podmon.Capnp;

/// <summary>List element size code, bits 32–34 of a list pointer.</summary>
public enum ElementSize : byte
{
    Void = 0,
    Bit = 1,
    Byte = 2,
    TwoBytes = 3,
    FourBytes = 4,
    EightBytes = 5,
    Pointer = 6,
    InlineComposite = 7,
}

/// <summary>What a pointer refers to, after following far pointers.</summary>
public enum PointerKind : byte
{
    Null,
    Struct,
    List,
    Capability,
}

internal static class ElementSizes
{
    /// <summary>Bits per element for the non-composite sizes (pointer = 64).</summary>
    public static int BitsPerElement(ElementSize size) => size switch
    {
        ElementSize.Void => 0,
        ElementSize.Bit => 1,
        ElementSize.Byte => 8,
        ElementSize.TwoBytes => 16,
        ElementSize.FourBytes => 32,
        _ => 64,
    };

    public static ElementSize ForByteWidth(int bytes) => bytes switch
    {
        1 => ElementSize.Byte,
        2 => ElementSize.TwoBytes,
        4 => ElementSize.FourBytes,
        8 => ElementSize.EightBytes,
        _ => throw new ArgumentOutOfRangeException(nameof(bytes), "primitive list elements are 1, 2, 4 or 8 bytes"),
    };
}
