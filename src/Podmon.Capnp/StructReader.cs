using System.Buffers.Binary;

namespace Podmon.Capnp;

/// <summary>
/// A struct in a received message. Data fields are addressed by byte offset (bools by bit offset) and
/// XORed with the given default. Fields beyond the encoded size read as their default, and pointers
/// beyond it as null (schema evolution).
/// </summary>
public readonly ref struct StructReader
{
    internal readonly ReadOnlySpan<byte> _msg;
    internal readonly ref ReadContext _ctx;
    internal readonly int _segStart;
    internal readonly int _segEnd;
    internal readonly int _dataByte;   // absolute byte offset of the data section
    internal readonly int _dataBytes;  // may be < 8 for structs read from primitive lists
    internal readonly int _ptrWord;    // absolute word index of the pointer section
    internal readonly int _ptrCount;
    internal readonly int _nesting;

    internal StructReader(ReadOnlySpan<byte> msg, ref ReadContext ctx, int segStart, int segEnd,
        int dataByte, int dataBytes, int ptrWord, int ptrCount, int nesting)
    {
        _msg = msg;
        _ctx = ref ctx;
        _segStart = segStart;
        _segEnd = segEnd;
        _dataByte = dataByte;
        _dataBytes = dataBytes;
        _ptrWord = ptrWord;
        _ptrCount = ptrCount;
        _nesting = nesting;
    }

    /// <summary>Size of the encoded data section in bytes.</summary>
    public int DataBytes => _dataBytes;

    /// <summary>Encoded pointer slots.</summary>
    public int PointerCount => _ptrCount;

    /// <summary>The encoded data section.</summary>
    public ReadOnlySpan<byte> DataSection => _msg.Slice(_dataByte, _dataBytes);

    public bool ReadBool(int bitOffset, bool defaultValue = false)
    {
        int b = bitOffset >> 3;
        if ((uint)b >= (uint)_dataBytes)
            return defaultValue;
        return (((_msg[_dataByte + b] >> (bitOffset & 7)) & 1) != 0) ^ defaultValue;
    }

    public byte ReadUInt8(int byteOffset, byte defaultValue = 0) =>
        Fits(byteOffset, 1) ? (byte)(_msg[_dataByte + byteOffset] ^ defaultValue) : defaultValue;

    public sbyte ReadInt8(int byteOffset, sbyte defaultValue = 0) => (sbyte)ReadUInt8(byteOffset, (byte)defaultValue);

    public ushort ReadUInt16(int byteOffset, ushort defaultValue = 0) =>
        Fits(byteOffset, 2)
            ? (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(_msg.Slice(_dataByte + byteOffset)) ^ defaultValue)
            : defaultValue;

    public short ReadInt16(int byteOffset, short defaultValue = 0) => (short)ReadUInt16(byteOffset, (ushort)defaultValue);

    public uint ReadUInt32(int byteOffset, uint defaultValue = 0) =>
        Fits(byteOffset, 4)
            ? BinaryPrimitives.ReadUInt32LittleEndian(_msg.Slice(_dataByte + byteOffset)) ^ defaultValue
            : defaultValue;

    public int ReadInt32(int byteOffset, int defaultValue = 0) => (int)ReadUInt32(byteOffset, (uint)defaultValue);

    public ulong ReadUInt64(int byteOffset, ulong defaultValue = 0) =>
        Fits(byteOffset, 8)
            ? BinaryPrimitives.ReadUInt64LittleEndian(_msg.Slice(_dataByte + byteOffset)) ^ defaultValue
            : defaultValue;

    public long ReadInt64(int byteOffset, long defaultValue = 0) => (long)ReadUInt64(byteOffset, (ulong)defaultValue);

    public float ReadFloat32(int byteOffset, float defaultValue = 0) =>
        BitConverter.UInt32BitsToSingle(ReadUInt32(byteOffset, BitConverter.SingleToUInt32Bits(defaultValue)));

    public double ReadFloat64(int byteOffset, double defaultValue = 0) =>
        BitConverter.UInt64BitsToDouble(ReadUInt64(byteOffset, BitConverter.DoubleToUInt64Bits(defaultValue)));

    /// <summary>Pointer slot <paramref name="index"/>; a null pointer if beyond the encoded pointer section.</summary>
    public PointerReader GetPointer(int index) =>
        (uint)index < (uint)_ptrCount
            ? new PointerReader(_msg, ref _ctx, _ptrWord + index, _segStart, _segEnd, _nesting)
            : new PointerReader(_msg, ref _ctx, -1, _segStart, _segEnd, _nesting);

    public bool HasPointer(int index) => !GetPointer(index).IsNull;

    public StructReader ReadStruct(int pointerIndex) => GetPointer(pointerIndex).GetStruct();

    public ListReader ReadList(int pointerIndex) => GetPointer(pointerIndex).GetList();

    public ReadOnlySpan<byte> ReadText(int pointerIndex) => GetPointer(pointerIndex).GetText();

    public string ReadTextString(int pointerIndex) => GetPointer(pointerIndex).GetTextString();

    public ReadOnlySpan<byte> ReadData(int pointerIndex) => GetPointer(pointerIndex).GetData();

    public TextListReader ReadTextList(int pointerIndex) => GetPointer(pointerIndex).GetTextList();

    public PrimitiveListReader<T> ReadList<T>(int pointerIndex) where T : unmanaged => GetPointer(pointerIndex).GetList<T>();

    private bool Fits(int byteOffset, int size) => (uint)byteOffset <= (uint)(_dataBytes - size) && _dataBytes >= size;

    public override string ToString() => $"struct({_dataBytes} data bytes, {_ptrCount} pointers)";
}
