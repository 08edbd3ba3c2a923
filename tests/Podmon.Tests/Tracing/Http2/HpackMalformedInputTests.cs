using Podmon.Tracing.Http2;
using static Podmon.Tests.Tracing.Http2.HpackWire;

namespace Podmon.Tests.Tracing.Http2;

/// <summary>Each way a block can be malformed raises HpackException saying what was wrong.</summary>
public class HpackMalformedInputTests
{
    [Theory]
    [InlineData("80", "hpack: index 0 in an indexed header field")]
    [InlineData("c6", "hpack: index 70 out of range (the tables hold 61 static and 0 dynamic entries)")]
    [InlineData("7e 0161", "hpack: index 62 out of range")] // literal, indexed name
    [InlineData("1f 2f 00", "hpack: index 62 out of range")] // never indexed, name index 15 + 47
    [InlineData("ff", "hpack: block ends inside an integer")]
    [InlineData("ff 80", "hpack: block ends inside an integer")]
    [InlineData("ff ff ff ff ff 0f", "hpack: integer exceeds 2147483647")]
    [InlineData("ff 80 80 80 80 80 00", "hpack: integer longer than 5 continuation bytes")]
    [InlineData("40", "hpack: block ends before the header name")]
    [InlineData("41", "hpack: block ends before the header value")]
    [InlineData("40 0561 62", "hpack: header name of 5 bytes overruns the block (2 bytes left)")]
    [InlineData("41 7f 80 ff ff ff 07", "hpack: header value of 2147483647 bytes overruns the block (0 bytes left)")]
    [InlineData("01 84 ffff ffff", "hpack: Huffman string contains the EOS symbol")]
    [InlineData("01 82 1fff", "hpack: Huffman string padded with more than 7 bits")] // 'a' (00011) + 11 one bits
    [InlineData("01 81 18", "hpack: Huffman string ends inside a code")] // 'a' + 000
    [InlineData("01 81 ff", "hpack: Huffman string padded with more than 7 bits")] // 8 one bits, no symbol
    [InlineData("82 20", "hpack: dynamic table size update after a header field")]
    [InlineData("3f e2 1f", "hpack: dynamic table size update to 4097 exceeds the limit of 4096")]
    public void Malformed_block_is_rejected_with_the_reason(string hex, string message)
    {
        var e = Assert.Throws<HpackException>(() => new HpackDecoder().Decode(Hex(hex), new HeaderList()));
        Assert.StartsWith(message, e.Message);
    }

    [Fact]
    public void A_size_update_to_exactly_the_limit_and_several_at_the_start_are_allowed()
    {
        var d = new HpackDecoder();
        var sink = new HeaderList();
        d.Decode(Hex("20 3fe1 1f 40 0161 0162"), sink); // to 0, to 4096, then a field
        Assert.Equal([("a", "b")], sink.Fields);
        Assert.Equal(4096, d.DynamicTable.MaxSize);
        Assert.Equal([("a", "b")], Table(d));
    }

    [Fact]
    public void An_entry_evicted_by_a_size_update_can_no_longer_be_referenced()
    {
        var d = new HpackDecoder();
        d.Decode(Hex("40 0161 0162"), new HeaderList());
        var sink = new HeaderList();
        d.Decode(Hex("be"), sink);
        Assert.Equal([("a", "b")], sink.Fields);
        var e = Assert.Throws<HpackException>(() => d.Decode(Hex("20 be"), new HeaderList()));
        Assert.StartsWith("hpack: index 62 out of range", e.Message);
        Assert.Equal(0, d.DynamicTable.Size);
    }

    [Fact]
    public void The_size_limit_is_the_constructors()
    {
        var e = Assert.Throws<HpackException>(() => new HpackDecoder(256).Decode(Hex("3f e2 01"), new HeaderList()));
        Assert.Equal("hpack: dynamic table size update to 257 exceeds the limit of 256", e.Message);
        new HpackDecoder(256).Decode(Hex("3f e1 01"), new HeaderList());
        Assert.Throws<ArgumentOutOfRangeException>(() => new HpackDecoder(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HpackDecoder(HpackDecoder.MaxTableSizeLimit + 1));
    }
}
