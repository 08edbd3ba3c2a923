using System.Text;
using Podmon.Capnp;
using Podmon.Rpc;
using Podmon.Schema;
using Podmon.Tracing;

namespace Podmon.Tests.Rpc;

/// <summary>
/// The caller's trace context, where each generation of client puts it: the v1.0 metadata map, and
/// the JSON object in a v0.7.x request's metadataOld (what CRI-O 1.26's v0.4.0 client sends). A
/// malformed context is no parent, never an error.
/// </summary>
public class TraceMetadataTests
{
    const string Parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    static SpanContext Read(bool old, (string, string)[] map, string? metadataOld)
    {
        using var m = new MessageBuilder();
        var parameters = new CreateContainerParamsBuilder(m.InitRoot(CreateContainerParamsBuilder.DataWords, CreateContainerParamsBuilder.PointerCount));
        StructBuilder s = parameters.RequestPointer.InitStruct(CreateContainerRequestBuilder.DataWords, (ushort)(old ? 13 : 12));
        new CreateContainerRequestBuilder(s).SetId("c1");
        int shift = old ? 1 : 0;
        if (old && metadataOld is not null) s.GetPointer(8).SetData(Encoding.UTF8.GetBytes(metadataOld));
        if (map.Length > 0)
        {
            var list = new TextTextMapEntryListBuilder(s.GetPointer(8 + shift).InitStructList(map.Length, TextTextMapEntryBuilder.DataWords, TextTextMapEntryBuilder.PointerCount));
            for (int i = 0; i < map.Length; i++)
            {
                list[i].SetKey(map[i].Item1);
                list[i].SetValue(map[i].Item2);
            }
        }
        var ctx = new ReadContext();
        StructReader root = new MessageReader(m.Frame.ToArray(), ref ctx).Root;
        StructReader request = SchemaGeneration.Request(ConmonMethod.CreateContainer, root, out bool detected);
        Assert.Equal(old, detected);
        return TraceMetadata.Parent(ConmonMethod.CreateContainer, request, detected);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_metadata_map_carries_the_parent_and_its_state(bool old)
    {
        SpanContext c = Read(old, [("other", "x"), ("traceparent", Parent), ("tracestate", "vendor=1")], null);
        Assert.True(c.IsValid);
        Assert.Equal(Parent, c.ToTraceParent());
        Assert.Equal("vendor=1", c.TraceState);
    }

    [Fact]
    public void A_v07_request_carries_it_as_json_in_metadataOld()
    {
        SpanContext c = Read(old: true, [], $$"""{"traceparent":"{{Parent}}","tracestate":"a=b\u0026c"}""");
        Assert.Equal(Parent, c.ToTraceParent());
        Assert.Equal("a=b&c", c.TraceState);
    }

    [Theory]
    [InlineData("{}")]                                      // tracing on, no span in CRI-O's context
    [InlineData("")]                                        // empty Data
    [InlineData("{\"traceparent\":\"00-zz-00-01\"}")]       // malformed traceparent
    [InlineData("{\"traceparent\":{\"nested\":1}}")]        // not a flat map of strings
    [InlineData("{\"traceparent\":\"" + Parent + "\"} x")]   // trailing bytes
    [InlineData("not json")]
    public void No_or_a_malformed_context_is_no_parent(string metadataOld) =>
        Assert.False(Read(old: true, [], metadataOld).IsValid);

    [Fact]
    public void A_malformed_traceparent_in_the_map_is_no_parent() =>
        Assert.False(Read(old: false, [("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01")], null).IsValid);

    [Theory]
    [InlineData("""{"a":"1","b":"2"}""", "1", "2")]
    [InlineData(""" { "b" : "x\"y\\z\/\n" , "c":"" } """, null, "x\"y\\z/\n")]
    [InlineData("""{"a":"\u00e9"}""", "é", null)]
    public void FlatJson_reads_strings_with_escapes(string json, string? a, string? b)
    {
        Assert.True(FlatJson.TryRead(Encoding.UTF8.GetBytes(json), "a", "b", out string? va, out string? vb));
        Assert.Equal((a, b), (va, vb));
    }

    [Theory]
    [InlineData("""{"a":1}""")]
    [InlineData("""{"a":"1",}""")]
    [InlineData("""{"a":"1\q"}""")]
    [InlineData("""{"a":"1""")]
    [InlineData("""["a"]""")]
    public void FlatJson_refuses_anything_else(string json) =>
        Assert.False(FlatJson.TryRead(Encoding.UTF8.GetBytes(json), "a", "b", out _, out _));
}
