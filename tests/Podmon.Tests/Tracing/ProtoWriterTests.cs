using Podmon.Tracing.Otlp;

namespace Podmon.Tests.Tracing;

/// <summary>The hand-written protobuf writer, against the wire format's rules and a reader written separately.</summary>
public class ProtoWriterTests
{
    [Theory]
    [InlineData(0UL, "00")]
    [InlineData(1UL, "01")]
    [InlineData(127UL, "7f")]
    [InlineData(128UL, "8001")]
    [InlineData(300UL, "ac02")]
    [InlineData(ulong.MaxValue, "ffffffffffffffffff01")]
    public void VarintsAreBase128LittleEndian(ulong value, string hex)
    {
        var w = new ProtoWriter(1);
        w.WriteVarint(value);
        Assert.Equal(hex, Convert.ToHexString(w.Written).ToLowerInvariant());
        Assert.Equal(hex.Length / 2, ProtoWriter.VarintSize(value));
    }

    [Fact]
    public void ScalarFieldsHaveTheirWireTypes()
    {
        var w = new ProtoWriter();
        w.VarintField(1, 150);
        w.Fixed64Field(7, 0x0102030405060708);
        w.Fixed32Field(16, 0x301);
        w.StringField(2, "testing");
        w.BytesField(4, [0xde, 0xad]);
        // the encoding guide's examples: 08 96 01 and 12 07 74 65 73 74 69 6e 67
        Assert.Equal("089601" + "390807060504030201" + "850101030000" + "120774657374696e67" + "2202dead",
            Convert.ToHexString(w.Written).ToLowerInvariant());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(127)]
    [InlineData(128)]
    [InlineData(16383)]
    [InlineData(16384)]
    [InlineData(300_000)]
    public void NestedMessagesGetTheirLengthWhateverItsSize(int size)
    {
        var w = new ProtoWriter(8);
        w.VarintField(1, 7);
        int outer = w.BeginMessage(3);
        int inner = w.BeginMessage(1);
        w.BytesField(2, Enumerable.Repeat((byte)0xab, size).ToArray());
        w.EndMessage(inner);
        w.VarintField(5, 9);
        w.EndMessage(outer);
        w.VarintField(6, 1);

        TestProto m = TestProto.Parse(w.Written);
        Assert.Equal(7UL, m.Value(1));
        Assert.Equal(1UL, m.Value(6));
        TestProto o = m.Message(3);
        Assert.Equal(9UL, o.Value(5));
        Assert.Equal(size, o.Message(1).One(2).Bytes.Length);
        Assert.All(o.Message(1).One(2).Bytes, b => Assert.Equal(0xab, b));
    }

    [Fact]
    public void ResetKeepsAZeroedPrefix()
    {
        var w = new ProtoWriter(4);
        w.StringField(1, "something long enough to grow the buffer");
        w.Reset(5);
        Assert.Equal(new byte[5], w.Written.ToArray());
        w.VarintField(1, 1);
        Assert.Equal(7, w.Length);
    }

    [Fact]
    public void StringsAreUtf8()
    {
        var w = new ProtoWriter(2);
        w.StringField(1, "größe ✓");
        Assert.Equal("größe ✓", TestProto.Parse(w.Written).Text(1));
    }
}
