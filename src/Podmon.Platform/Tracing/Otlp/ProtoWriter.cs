using System.Buffers.Binary;
using System.Text;

namespace Podmon.Tracing.Otlp;

/// <summary>
/// Protocol Buffers wire format, written by hand into one growable buffer (no generated code, no
/// reflection). A nested message is written in place: <see cref="BeginMessage"/> leaves one byte
/// for its length and <see cref="EndMessage"/> fills it in, moving the body up when the length
/// needs more bytes (most OTLP sub-messages are short, so the move is rare and small). The buffer
/// is reused from one export to the next.
/// </summary>
public sealed class ProtoWriter
{
    public const int Varint = 0, Fixed64 = 1, LengthDelimited = 2, Fixed32 = 5;

    byte[] _buf;
    int _len;

    public ProtoWriter(int initialCapacity = 4096) => _buf = new byte[initialCapacity];

    public int Length => _len;
    public ReadOnlySpan<byte> Written => _buf.AsSpan(0, _len);
    internal Span<byte> WrittenMutable => _buf.AsSpan(0, _len);

    /// <summary>Empties the buffer, keeping <paramref name="reserve"/> zero bytes at its start (a gRPC message prefix).</summary>
    public void Reset(int reserve = 0)
    {
        Ensure(reserve);
        _buf.AsSpan(0, reserve).Clear();
        _len = reserve;
    }

    /// <summary>Lets go of a buffer grown past <paramref name="keepBytes"/> (by an unusually large batch): the content moves to one just big enough.</summary>
    public void Trim(int keepBytes)
    {
        if (_buf.Length <= keepBytes) return;
        byte[] small = new byte[Math.Max(_len, 1024)];
        _buf.AsSpan(0, _len).CopyTo(small);
        _buf = small;
    }

    public void Tag(int field, int wireType) => WriteVarint((ulong)(uint)(field << 3 | wireType));

    public void WriteVarint(ulong value)
    {
        Ensure(10);
        while (value >= 0x80)
        {
            _buf[_len++] = (byte)(value | 0x80);
            value >>= 7;
        }
        _buf[_len++] = (byte)value;
    }

    public static int VarintSize(ulong value)
    {
        int n = 1;
        while (value >= 0x80) { value >>= 7; n++; }
        return n;
    }

    /// <summary>An int64/uint64/enum/bool field, written even when 0 (a oneof member must be).</summary>
    public void VarintField(int field, ulong value)
    {
        Tag(field, Varint);
        WriteVarint(value);
    }

    public void Fixed64Field(int field, ulong value)
    {
        Tag(field, Fixed64);
        Ensure(8);
        BinaryPrimitives.WriteUInt64LittleEndian(_buf.AsSpan(_len), value);
        _len += 8;
    }

    public void Fixed32Field(int field, uint value)
    {
        Tag(field, Fixed32);
        Ensure(4);
        BinaryPrimitives.WriteUInt32LittleEndian(_buf.AsSpan(_len), value);
        _len += 4;
    }

    public void BytesField(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, LengthDelimited);
        WriteVarint((ulong)value.Length);
        Ensure(value.Length);
        value.CopyTo(_buf.AsSpan(_len));
        _len += value.Length;
    }

    public void StringField(int field, string value)
    {
        Tag(field, LengthDelimited);
        int n = Encoding.UTF8.GetByteCount(value);
        WriteVarint((ulong)n);
        Ensure(n);
        _len += Encoding.UTF8.GetBytes(value, _buf.AsSpan(_len));
    }

    /// <summary>Bytes that are already a serialized field (or fields), copied as they are.</summary>
    public void Raw(ReadOnlySpan<byte> encoded)
    {
        Ensure(encoded.Length);
        encoded.CopyTo(_buf.AsSpan(_len));
        _len += encoded.Length;
    }

    /// <summary>Starts a length-delimited sub-message; pass the result to <see cref="EndMessage"/>.</summary>
    public int BeginMessage(int field)
    {
        Tag(field, LengthDelimited);
        Ensure(1);
        return _len++;
    }

    public void EndMessage(int mark)
    {
        int bodyStart = mark + 1;
        int bodyLength = _len - bodyStart;
        int size = VarintSize((ulong)bodyLength);
        if (size > 1)
        {
            Ensure(size - 1);
            _buf.AsSpan(bodyStart, bodyLength).CopyTo(_buf.AsSpan(bodyStart + size - 1));
            _len += size - 1;
        }
        int at = mark;
        ulong v = (ulong)bodyLength;
        while (v >= 0x80)
        {
            _buf[at++] = (byte)(v | 0x80);
            v >>= 7;
        }
        _buf[at] = (byte)v;
    }

    void Ensure(int more)
    {
        if (_len + more <= _buf.Length) return;
        Array.Resize(ref _buf, Math.Max(_len + more, _buf.Length * 2));
    }
}
