using Podmon.Tracing;
using Podmon.Tracing.Otlp;

namespace Podmon.Tests.Tracing;

/// <summary>
/// ExportTraceServiceRequest as encoded, read back field by field with the numbers of
/// tests/fixtures/otlp (opentelemetry-proto v1.11.0). The integration tests also decode it with protoc
/// and a real gRPC server.
/// </summary>
public class TraceRequestEncoderTests
{
    sealed class Collect : ISpanSink
    {
        public readonly List<Span> Ended = [];
        public void Enqueue(Span span) => Ended.Add(span);
    }

    static readonly Collect Sink = new();

    static Span MakeSpan(string name, ulong parent, SpanKind kind, string? state = null, bool remoteParent = false) =>
        new(Sink, new SpanContext(0x4bf92f3577b34da6, 0xa3ce929d0e0e4736, 0x00f067aa0ba902b7, 1, state, false),
            parent, name, kind, 1_700_000_000_123_456_789) { ParentIsRemote = remoteParent };

    static TestProto Encode(params Span[] spans)
    {
        var w = new ProtoWriter();
        new TraceRequestEncoder("podmon", 4711, "node-1").Encode(w, spans);
        return TestProto.Parse(w.Written);
    }

    [Fact]
    public void ResourceAndScopeAreConmonRsOnes()
    {
        TestProto request = Encode(MakeSpan("x", 0, SpanKind.Internal));
        TestProto resourceSpans = request.Message(1);
        Dictionary<string, string> resource = resourceSpans.Message(1).Attributes(1);
        Assert.Equal(new Dictionary<string, string>
        {
            ["service.name"] = "s:podmon", ["process.pid"] = "i:4711", ["host.name"] = "s:node-1",
        }, resource);
        TestProto scopeSpans = resourceSpans.Message(2);
        Assert.Equal("podmon", scopeSpans.Message(1).Text(1));

        var w = new ProtoWriter();
        new TraceRequestEncoder("pod-x", 1, "n", scopeName: "podmon").Encode(w, [MakeSpan("y", 0, SpanKind.Internal)]);
        TestProto renamed = TestProto.Parse(w.Written).Message(1);
        Assert.Equal("s:pod-x", renamed.Message(1).Attributes(1)["service.name"]);
        Assert.Equal("podmon", renamed.Message(2).Message(1).Text(1));
    }

    [Fact]
    public void EverySpanFieldIsWhereTheProtoSaysAndTheRestAreLeftOut()
    {
        Span s = MakeSpan("CreateContainer", 0x1122334455667788, SpanKind.Server, state: "rojo=1", remoteParent: true);
        s.SetAttribute("container.id", "abc");
        s.SetAttribute("exit.code", -3);
        s.SetAttribute("tty", true);
        s.SetAttribute("tty", false); // the same key again replaces it
        s.SetError("runc create failed");
        s.End();
        TestProto span = Encode(s).Message(1).Message(2).Message(2);

        Assert.Equal("4bf92f3577b34da6a3ce929d0e0e4736", Convert.ToHexString(span.One(1).Bytes).ToLowerInvariant());
        Assert.Equal("00f067aa0ba902b7", Convert.ToHexString(span.One(2).Bytes).ToLowerInvariant());
        Assert.Equal("rojo=1", span.Text(3));
        Assert.Equal("1122334455667788", Convert.ToHexString(span.One(4).Bytes).ToLowerInvariant());
        Assert.Equal("CreateContainer", span.Text(5));
        Assert.Equal(2UL, span.Value(6)); // SPAN_KIND_SERVER
        Assert.Equal(1, span.One(7).Wire); // fixed64
        Assert.Equal(1_700_000_000_123_456_789UL, span.Value(7));
        Assert.True(span.Value(8) >= span.Value(7));
        Assert.Equal(new Dictionary<string, string>
        {
            ["container.id"] = "s:abc", ["exit.code"] = "i:-3", ["tty"] = "b:false",
        }, span.Attributes(9));
        TestProto status = span.Message(15);
        Assert.Equal("runc create failed", status.Text(2));
        Assert.Equal(2UL, status.Value(3)); // STATUS_CODE_ERROR
        Assert.Equal(5, span.One(16).Wire); // fixed32
        Assert.Equal(0x301UL, span.Value(16)); // sampled | HAS_IS_REMOTE | IS_REMOTE
        Assert.False(span.Has(10)); // no dropped attributes
    }

    [Fact]
    public void ARootSpanHasNoParentNoStateNoStatus()
    {
        Span s = MakeSpan("Version", 0, SpanKind.Internal);
        s.End();
        TestProto span = Encode(s).Message(1).Message(2).Message(2);
        Assert.False(span.Has(3));
        Assert.False(span.Has(4));
        Assert.False(span.Has(9));
        Assert.False(span.Has(15));
        Assert.Equal(1UL, span.Value(6));
        Assert.Equal(0x101UL, span.Value(16));
    }

    [Fact]
    public void AttributesOverTheLimitAreCountedNotKept()
    {
        Span s = MakeSpan("many", 0, SpanKind.Internal);
        for (int i = 0; i < Span.MaxAttributes + 5; i++) s.SetAttribute($"k{i}", i);
        s.End();
        s.SetAttribute("after.end", 1); // ignored
        TestProto span = Encode(s).Message(1).Message(2).Message(2);
        Assert.Equal(Span.MaxAttributes, span.All(9).Count());
        Assert.Equal(5UL, span.Value(10));
    }

    [Fact]
    public void ManySpansGoInOneScopeSpans()
    {
        Span[] spans = Enumerable.Range(0, 300).Select(i => MakeSpan($"op{i}", 0, SpanKind.Client)).ToArray();
        foreach (Span s in spans) s.End();
        TestProto request = Encode(spans);
        TestProto scopeSpans = Assert.Single(request.All(1)).Message.Message(2);
        Assert.Equal(Enumerable.Range(0, 300).Select(i => $"op{i}"), scopeSpans.All(2).Select(f => f.Message.Text(5)));
    }
}
