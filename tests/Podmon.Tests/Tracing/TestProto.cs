using System.Buffers.Binary;
using System.Text;

namespace Podmon.Tests.Tracing;

/// <summary>
/// A protobuf wire-format reader written for the tests from the encoding rules alone (not from the
/// encoder under test): a message is a list of fields, each a varint, a fixed64, a fixed32 or bytes.
/// Malformed input throws.
/// </summary>
sealed class TestProto
{
    public readonly record struct Field(int Number, int Wire, ulong Value, byte[] Bytes)
    {
        public TestProto Message => Parse(Bytes);
        public string Text => Encoding.UTF8.GetString(Bytes);
    }

    public List<Field> Fields { get; } = [];

    public static TestProto Parse(ReadOnlySpan<byte> data)
    {
        var m = new TestProto();
        int at = 0;
        while (at < data.Length)
        {
            ulong tag = Varint(data, ref at);
            int number = (int)(tag >> 3), wire = (int)(tag & 7);
            if (number == 0) throw new FormatException("field number 0");
            switch (wire)
            {
                case 0: m.Fields.Add(new Field(number, 0, Varint(data, ref at), [])); break;
                case 1: m.Fields.Add(new Field(number, 1, BinaryPrimitives.ReadUInt64LittleEndian(data.Slice(at, 8)), [])); at += 8; break;
                case 5: m.Fields.Add(new Field(number, 5, BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(at, 4)), [])); at += 4; break;
                case 2:
                    int len = checked((int)Varint(data, ref at));
                    m.Fields.Add(new Field(number, 2, 0, data.Slice(at, len).ToArray()));
                    at += len;
                    break;
                default: throw new FormatException($"wire type {wire}");
            }
        }
        if (at != data.Length) throw new FormatException("trailing bytes");
        return m;
    }

    static ulong Varint(ReadOnlySpan<byte> d, ref int at)
    {
        ulong v = 0;
        for (int shift = 0; ; shift += 7)
        {
            if (shift > 63) throw new FormatException("varint too long");
            byte b = d[at++];
            v |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80) return v;
        }
    }

    public IEnumerable<Field> All(int number) => Fields.Where(f => f.Number == number);
    public Field One(int number) => Assert.Single(All(number));
    public bool Has(int number) => All(number).Any();
    public string Text(int number) => One(number).Text;
    public ulong Value(int number) => One(number).Value;
    public TestProto Message(int number) => One(number).Message;

    /// <summary>KeyValue list (field <paramref name="number"/>) as "key" → "s:text" / "i:123" / "b:true".</summary>
    public Dictionary<string, string> Attributes(int number) => All(number).Select(f => f.Message).ToDictionary(
        kv => kv.Text(1),
        kv =>
        {
            Field any = Assert.Single(kv.Message(2).Fields);
            return any.Number switch
            {
                1 => "s:" + any.Text,
                2 => "b:" + (any.Value != 0 ? "true" : "false"),
                3 => "i:" + (long)any.Value,
                _ => throw new FormatException($"AnyValue field {any.Number}"),
            };
        });
}
