using System.Buffers.Binary;

namespace Podmon.Capnp;

/// <summary>
/// A struct being built. Data fields by byte offset (bools by bit offset), stored XOR the default.
/// </summary>
public readonly struct StructBuilder
{
    internal readonly MessageBuilder _m;
    internal readonly int _dataWord;
    internal readonly ushort _dataWords;
    internal readonly ushort _ptrCount;

    internal StructBuilder(MessageBuilder m, int dataWord, ushort dataWords, ushort ptrCount)
    {
        _m = m;
        _dataWord = dataWord;
        _dataWords = dataWords;
        _ptrCount = ptrCount;
    }

    public MessageBuilder Message => _m;
    public int DataWords => _dataWords;
    public int PointerCount => _ptrCount;

    public Span<byte> DataSection => _m.Words(_dataWord, _dataWords);

    public PointerBuilder GetPointer(int index)
    {
        if ((uint)index >= _ptrCount)
            Throw.Argument($"pointer index {index} outside a struct with {_ptrCount} pointers");
        return new PointerBuilder(_m, _dataWord + _dataWords + index);
    }

    public void WriteBool(int bitOffset, bool value, bool defaultValue = false)
    {
        Span<byte> b = Data(bitOffset >> 3, 1);
        int mask = 1 << (bitOffset & 7);
        b[0] = (byte)(value ^ defaultValue ? b[0] | mask : b[0] & ~mask);
    }

    public bool ReadBool(int bitOffset, bool defaultValue = false) =>
        (((Data(bitOffset >> 3, 1)[0] >> (bitOffset & 7)) & 1) != 0) ^ defaultValue;

    public void WriteUInt8(int byteOffset, byte value, byte defaultValue = 0) => Data(byteOffset, 1)[0] = (byte)(value ^ defaultValue);
    public void WriteInt8(int byteOffset, sbyte value, sbyte defaultValue = 0) => WriteUInt8(byteOffset, (byte)value, (byte)defaultValue);

    public void WriteUInt16(int byteOffset, ushort value, ushort defaultValue = 0) =>
        BinaryPrimitives.WriteUInt16LittleEndian(Data(byteOffset, 2), (ushort)(value ^ defaultValue));
    public void WriteInt16(int byteOffset, short value, short defaultValue = 0) => WriteUInt16(byteOffset, (ushort)value, (ushort)defaultValue);

    public void WriteUInt32(int byteOffset, uint value, uint defaultValue = 0) =>
        BinaryPrimitives.WriteUInt32LittleEndian(Data(byteOffset, 4), value ^ defaultValue);
    public void WriteInt32(int byteOffset, int value, int defaultValue = 0) => WriteUInt32(byteOffset, (uint)value, (uint)defaultValue);

    public void WriteUInt64(int byteOffset, ulong value, ulong defaultValue = 0) =>
        BinaryPrimitives.WriteUInt64LittleEndian(Data(byteOffset, 8), value ^ defaultValue);
    public void WriteInt64(int byteOffset, long value, long defaultValue = 0) => WriteUInt64(byteOffset, (ulong)value, (ulong)defaultValue);

    public void WriteFloat32(int byteOffset, float value, float defaultValue = 0) =>
        WriteUInt32(byteOffset, BitConverter.SingleToUInt32Bits(value), BitConverter.SingleToUInt32Bits(defaultValue));
    public void WriteFloat64(int byteOffset, double value, double defaultValue = 0) =>
        WriteUInt64(byteOffset, BitConverter.DoubleToUInt64Bits(value), BitConverter.DoubleToUInt64Bits(defaultValue));

    public byte ReadUInt8(int byteOffset, byte defaultValue = 0) => (byte)(Data(byteOffset, 1)[0] ^ defaultValue);
    public ushort ReadUInt16(int byteOffset, ushort defaultValue = 0) =>
        (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(Data(byteOffset, 2)) ^ defaultValue);
    public uint ReadUInt32(int byteOffset, uint defaultValue = 0) =>
        BinaryPrimitives.ReadUInt32LittleEndian(Data(byteOffset, 4)) ^ defaultValue;
    public ulong ReadUInt64(int byteOffset, ulong defaultValue = 0) =>
        BinaryPrimitives.ReadUInt64LittleEndian(Data(byteOffset, 8)) ^ defaultValue;

    public sbyte ReadInt8(int byteOffset, sbyte defaultValue = 0) => (sbyte)ReadUInt8(byteOffset, (byte)defaultValue);
    public short ReadInt16(int byteOffset, short defaultValue = 0) => (short)ReadUInt16(byteOffset, (ushort)defaultValue);
    public int ReadInt32(int byteOffset, int defaultValue = 0) => (int)ReadUInt32(byteOffset, (uint)defaultValue);
    public long ReadInt64(int byteOffset, long defaultValue = 0) => (long)ReadUInt64(byteOffset, (ulong)defaultValue);
    public float ReadFloat32(int byteOffset, float defaultValue = 0) =>
        BitConverter.UInt32BitsToSingle(ReadUInt32(byteOffset, BitConverter.SingleToUInt32Bits(defaultValue)));
    public double ReadFloat64(int byteOffset, double defaultValue = 0) =>
        BitConverter.UInt64BitsToDouble(ReadUInt64(byteOffset, BitConverter.DoubleToUInt64Bits(defaultValue)));

    private Span<byte> Data(int byteOffset, int size)
    {
        if ((uint)byteOffset > (uint)(_dataWords * 8 - size) || _dataWords * 8 < size)
            Throw.Argument($"data field at byte {byteOffset} outside a struct with {_dataWords} data words");
        return _m.Bytes(_dataWord, byteOffset, size);
    }
}
