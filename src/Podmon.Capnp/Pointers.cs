namespace Podmon.Capnp;

/// <summary>Bit layout of the 64-bit pointer word.</summary>
internal static class Ptr
{
    public const ulong ZeroSizedStruct = 0xFFFF_FFFC; // offset -1, 0 data words, 0 pointers

    public static int Kind(ulong w) => (int)(w & 3);

    /// <summary>Signed 30-bit word offset of struct and list pointers.</summary>
    public static int Offset(ulong w) => (int)(uint)w >> 2;

    public static ushort DataWords(ulong w) => (ushort)(w >> 32);
    public static ushort PointerCount(ulong w) => (ushort)(w >> 48);
    public static ElementSize ElemSize(ulong w) => (ElementSize)((w >> 32) & 7);
    public static uint ListCount(ulong w) => (uint)(w >> 35);

    public static ulong Struct(int offset, ushort dataWords, ushort pointers) =>
        (uint)(offset << 2) | ((ulong)dataWords << 32) | ((ulong)pointers << 48);

    public static ulong List(int offset, ElementSize size, uint count) =>
        (uint)(offset << 2) | 1UL | ((ulong)(byte)size << 32) | ((ulong)count << 35);

    public static ulong Capability(uint index) => 3UL | ((ulong)index << 32);
}

/// <summary>A pointer resolved through any far pointers: what it is and where its object lives.</summary>
internal struct Resolved
{
    public PointerKind Kind;
    public ulong Tag;      // struct/list pointer word carrying the sizes
    public int Target;     // absolute word index of the object (for composite lists: of the tag word)
    public int SegStart;   // bounds of the segment holding the object
    public int SegEnd;
}
