using Podmon.Tracing.Http2;
using static Podmon.Tests.Tracing.Http2.HpackWire;

namespace Podmon.Tests.Tracing.Http2;

/// <summary>RFC 7541 §4.4 eviction, and the table's storage moving underneath a name it is copying.</summary>
public class HpackDynamicTableTests
{
    [Fact]
    public void An_entry_larger_than_the_table_empties_it_and_is_still_emitted()
    {
        var d = new HpackDecoder(100);
        d.Decode(Hex("40 0161 0162"), new HeaderList());
        Assert.Equal(34, d.DynamicTable.Size);
        var o = new List<byte>();
        Literal(o, 0x40, 0, Latin1("big"), new byte[66], huffmanName: false, huffmanValue: true); // 3 + 66 + 32 = 101
        var sink = new HeaderList();
        d.Decode([.. o], sink);
        Assert.Equal([("big", new string('\0', 66))], sink.Fields);
        Assert.Empty(Table(d));
        Assert.Equal(0, d.DynamicTable.Size);
    }

    /// <summary>
    /// RFC 7541 §4.4: a literal may name the very entry its insertion evicts. With a 64-octet table
    /// each insertion here evicts the previous entry, and the table's buffer runs out of tail and
    /// moves its bytes to the front every few rounds while the name still points into it.
    /// </summary>
    [Fact]
    public void A_name_taken_from_the_entry_its_insertion_evicts_survives()
    {
        var d = new HpackDecoder(64);
        d.Decode(Hex("40 046e616d65 0176"), new HeaderList()); // ("name", "v")
        for (int round = 0; round < 40; round++)
        {
            string value = new('x', round % 20 + 1);
            var o = new List<byte>();
            Literal(o, 0x40, 62, null, Latin1(value), false, round % 2 == 0);
            var sink = new HeaderList();
            d.Decode([.. o], sink);
            Assert.Equal([("name", value)], sink.Fields);
            Assert.Equal([("name", value)], Table(d));
            Assert.Equal(4 + value.Length + 32, d.DynamicTable.Size);
        }
    }

    /// <summary>
    /// The table's 512-octet buffer (limit 256) holds ("n", 179 x) at 151..331, so the next 200
    /// octets do not fit at the tail: the live bytes move to 0..180, over the name's old place at 151,
    /// while the field being inserted takes its name from that entry.
    /// </summary>
    [Fact]
    public void A_name_read_from_bytes_the_table_moves_is_copied_from_their_new_place()
    {
        var d = new HpackDecoder(256);
        var o = new List<byte>();
        Literal(o, 0x40, 0, Latin1("a"), Latin1(new string('y', 150)), false, false);
        Literal(o, 0x40, 0, Latin1("n"), Latin1(new string('x', 179)), false, false); // evicts "a"
        d.Decode([.. o], new HeaderList());
        Assert.Equal([("n", new string('x', 179))], Table(d));

        o.Clear();
        Literal(o, 0x40, 62, null, Latin1(new string('z', 199)), false, false); // 1 + 199 + 32 = 232: evicts "n"
        var sink = new HeaderList();
        d.Decode([.. o], sink);
        Assert.Equal([("n", new string('z', 199))], sink.Fields);
        Assert.Equal([("n", new string('z', 199))], Table(d));
        Assert.Equal(232, d.DynamicTable.Size);
    }
}
