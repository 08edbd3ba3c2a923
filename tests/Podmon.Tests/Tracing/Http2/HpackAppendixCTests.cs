using Podmon.Tracing.Http2;
using static Podmon.Tests.Tracing.Http2.HpackWire;

namespace Podmon.Tests.Tracing.Http2;

/// <summary>
/// Every example of RFC 7541 Appendix C: the published header blocks decode to the published header
/// lists, and after each block the dynamic table holds the published entries (newest first) and size.
/// </summary>
public class HpackAppendixCTests
{
    static void Step(HpackDecoder d, string hex, (string, string)[] fields, (string, string)[] table, int size)
    {
        var sink = new HeaderList();
        d.Decode(Hex(hex), sink);
        Assert.Equal(fields, sink.Fields);
        Assert.Equal(table, Table(d));
        Assert.Equal(size, d.DynamicTable.Size);
    }

    [Fact]
    public void C2_1_literal_with_indexing() =>
        Step(new HpackDecoder(), "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
            [("custom-key", "custom-header")], [("custom-key", "custom-header")], 55);

    [Fact]
    public void C2_2_literal_without_indexing() =>
        Step(new HpackDecoder(), "040c 2f73 616d 706c 652f 7061 7468", [(":path", "/sample/path")], [], 0);

    [Fact]
    public void C2_3_literal_never_indexed() =>
        Step(new HpackDecoder(), "1008 7061 7373 776f 7264 0673 6563 7265 74", [("password", "secret")], [], 0);

    [Fact]
    public void C2_4_indexed() => Step(new HpackDecoder(), "82", [(":method", "GET")], [], 0);

    static readonly (string, string)[] Request1 =
        [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")];
    static readonly (string, string)[] Request2 = [.. Request1, ("cache-control", "no-cache")];
    static readonly (string, string)[] Request3 =
        [(":method", "GET"), (":scheme", "https"), (":path", "/index.html"), (":authority", "www.example.com"), ("custom-key", "custom-value")];
    static readonly (string, string)[] Table1 = [(":authority", "www.example.com")];
    static readonly (string, string)[] Table2 = [("cache-control", "no-cache"), .. Table1];
    static readonly (string, string)[] Table3 = [("custom-key", "custom-value"), .. Table2];

    [Fact]
    public void C3_requests_without_Huffman()
    {
        var d = new HpackDecoder();
        Step(d, "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", Request1, Table1, 57);
        Step(d, "8286 84be 5808 6e6f 2d63 6163 6865", Request2, Table2, 110);
        Step(d, "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65", Request3, Table3, 164);
    }

    [Fact]
    public void C4_requests_with_Huffman()
    {
        var d = new HpackDecoder();
        Step(d, "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", Request1, Table1, 57);
        Step(d, "8286 84be 5886 a8eb 1064 9cbf", Request2, Table2, 110);
        Step(d, "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf", Request3, Table3, 164);
    }

    const string Date21 = "Mon, 21 Oct 2013 20:13:21 GMT", Date22 = "Mon, 21 Oct 2013 20:13:22 GMT";
    const string Location = "https://www.example.com";
    const string Cookie = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
    static readonly (string, string)[] Response1 =
        [(":status", "302"), ("cache-control", "private"), ("date", Date21), ("location", Location)];
    static readonly (string, string)[] Response2 = [(":status", "307"), .. Response1[1..]];
    static readonly (string, string)[] Response3 =
        [(":status", "200"), ("cache-control", "private"), ("date", Date22), ("location", Location), ("content-encoding", "gzip"), ("set-cookie", Cookie)];
    static readonly (string, string)[] ResponseTable1 =
        [("location", Location), ("date", Date21), ("cache-control", "private"), (":status", "302")];
    static readonly (string, string)[] ResponseTable2 =
        [(":status", "307"), ("location", Location), ("date", Date21), ("cache-control", "private")];
    static readonly (string, string)[] ResponseTable3 =
        [("set-cookie", Cookie), ("content-encoding", "gzip"), ("date", Date22)];

    // SETTINGS_HEADER_TABLE_SIZE 256: the responses evict.
    [Fact]
    public void C5_responses_without_Huffman()
    {
        var d = new HpackDecoder(256);
        Step(d, "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 " +
                "2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
            Response1, ResponseTable1, 222);
        Step(d, "4803 3330 37c1 c0bf", Response2, ResponseTable2, 222);
        Step(d, "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d " +
                "54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 " +
                "5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
            Response3, ResponseTable3, 215);
    }

    [Fact]
    public void C6_responses_with_Huffman()
    {
        var d = new HpackDecoder(256);
        Step(d, "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 " +
                "2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
            Response1, ResponseTable1, 222);
        Step(d, "4883 640e ffc1 c0bf", Response2, ResponseTable2, 222);
        Step(d, "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab " +
                "77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f " +
                "9587 3160 65c0 03ed 4ee5 b106 3d50 07",
            Response3, ResponseTable3, 215);
    }

    sealed class CountingSink : IHeaderSink
    {
        public long Octets;
        public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) => Octets += name.Length + value.Length;
    }

    /// <summary>Once the Huffman buffer has grown, decoding allocates nothing: entries go into storage the table already owns.</summary>
    [Fact]
    public void Decoding_the_C6_responses_again_allocates_nothing()
    {
        byte[][] blocks =
        [
            Hex("4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3"),
            Hex("4883 640e ffc1 c0bf"),
            Hex("88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07"),
        ];
        var d = new HpackDecoder(256);
        var sink = new CountingSink();
        void Run(int rounds)
        {
            for (int i = 0; i < rounds; i++)
                foreach (byte[] block in blocks) d.Decode(block, sink);
        }
        Run(100);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Run(1000);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1100 * (94 + 94 + 180), sink.Octets); // the three lists' name and value octets
    }
}
