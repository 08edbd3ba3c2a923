namespace Podmon.Tracing.Otlp;

/// <summary>
/// Encodes a batch of ended spans as one
/// <c>opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest</c> (field numbers from
/// opentelemetry-proto v1.11.0; tests/fixtures/otlp has the .proto files): one ResourceSpans with
/// the process's resource and one ScopeSpans under the instrumentation scope. The resource and scope
/// never change, so they are encoded once. Default (zero) scalar fields are left out, as proto3 does.
/// </summary>
public sealed class TraceRequestEncoder
{
    // ExportTraceServiceRequest.resource_spans; ResourceSpans.resource, .scope_spans;
    // ScopeSpans.scope, .spans; Resource.attributes; InstrumentationScope.name.
    const int RequestResourceSpans = 1, ResourceSpansResource = 1, ResourceSpansScopeSpans = 2;
    const int ScopeSpansScope = 1, ScopeSpansSpans = 2, ResourceAttributes = 1, ScopeName = 1;
    // Span
    const int TraceId = 1, SpanId = 2, TraceState = 3, ParentSpanId = 4, Name = 5, Kind = 6,
        StartTime = 7, EndTime = 8, Attributes = 9, DroppedAttributesCount = 10, Status = 15, Flags = 16;
    // Status, KeyValue, AnyValue
    const int StatusMessage = 2, StatusCode = 3, StatusCodeError = 2;
    const int KeyValueKey = 1, KeyValueValue = 2, AnyString = 1, AnyBool = 2, AnyInt = 3;
    // SpanFlags: the W3C trace flags in the low byte, and whether the parent is remote.
    const uint ContextHasIsRemote = 0x100, ContextIsRemote = 0x200;

    readonly byte[] _resource; // the encoded ResourceSpans.resource field
    readonly byte[] _scope;    // the encoded ScopeSpans.scope field

    /// <summary>The resource (service.name, process.pid, host.name) and the scope (<paramref name="scopeName"/>, else the service's name).</summary>
    public TraceRequestEncoder(string serviceName, long pid, string hostName, string? scopeName = null)
    {
        var w = new ProtoWriter(256);
        int resource = w.BeginMessage(ResourceSpansResource);
        KeyValue(w, ResourceAttributes, new SpanAttribute("service.name", serviceName));
        KeyValue(w, ResourceAttributes, new SpanAttribute("process.pid", pid));
        KeyValue(w, ResourceAttributes, new SpanAttribute("host.name", hostName));
        w.EndMessage(resource);
        _resource = w.Written.ToArray();

        w.Reset();
        int scope = w.BeginMessage(ScopeSpansScope);
        w.StringField(ScopeName, scopeName ?? serviceName);
        w.EndMessage(scope);
        _scope = w.Written.ToArray();
    }

    /// <summary>
    /// Writes the request for <paramref name="encodedSpans"/> (spans written by
    /// <see cref="EncodeSpan"/>, one after the other) into <paramref name="w"/> after its current
    /// content (the caller may have reserved a prefix).
    /// </summary>
    public void Encode(ProtoWriter w, ReadOnlySpan<byte> encodedSpans)
    {
        Marks m = Begin(w);
        w.Raw(encodedSpans);
        End(w, m);
    }

    /// <summary>Where the open ResourceSpans and ScopeSpans start, for <see cref="End"/>.</summary>
    public readonly struct Marks(int resourceSpans, int scopeSpans)
    {
        public readonly int ResourceSpans = resourceSpans, ScopeSpans = scopeSpans;
    }

    /// <summary>Opens the request's ResourceSpans (with the resource) and ScopeSpans (with the scope): encoded spans go next.</summary>
    public Marks Begin(ProtoWriter w)
    {
        int resourceSpans = w.BeginMessage(RequestResourceSpans);
        w.Raw(_resource);
        int scopeSpans = w.BeginMessage(ResourceSpansScopeSpans);
        w.Raw(_scope);
        return new Marks(resourceSpans, scopeSpans);
    }

    public void End(ProtoWriter w, Marks m)
    {
        w.EndMessage(m.ScopeSpans);
        w.EndMessage(m.ResourceSpans);
    }

    /// <summary>The request for <paramref name="spans"/>, encoded one by one (what the tests and tools use).</summary>
    public void Encode(ProtoWriter w, IReadOnlyList<Span> spans)
    {
        var encoded = new ProtoWriter();
        for (int i = 0; i < spans.Count; i++) EncodeSpan(encoded, spans[i]);
        Encode(w, encoded.Written);
    }

    /// <summary>One span as the <c>ScopeSpans.spans</c> field (tag and length included): what the queue holds.</summary>
    public static void EncodeSpan(ProtoWriter w, Span span)
    {
        Span<byte> id = stackalloc byte[16];
        int m = w.BeginMessage(ScopeSpansSpans);
        SpanContext c = span.Context;
        c.WriteTraceId(id);
        w.BytesField(TraceId, id);
        c.WriteSpanId(id);
        w.BytesField(SpanId, id[..8]);
        if (c.TraceState is { Length: > 0 } state) w.StringField(TraceState, state);
        if (span.ParentSpanId != 0)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(id, span.ParentSpanId);
            w.BytesField(ParentSpanId, id[..8]);
        }
        w.StringField(Name, span.Name);
        w.VarintField(Kind, (ulong)span.Kind);
        w.Fixed64Field(StartTime, (ulong)span.StartUnixNanos);
        w.Fixed64Field(EndTime, (ulong)span.EndUnixNanos);
        foreach (SpanAttribute a in span.Attributes) KeyValue(w, Attributes, a);
        if (span.DroppedAttributes > 0) w.VarintField(DroppedAttributesCount, (ulong)span.DroppedAttributes);
        if (span.IsError)
        {
            int s = w.BeginMessage(Status);
            if (span.ErrorMessage is { Length: > 0 } message) w.StringField(StatusMessage, message);
            w.VarintField(StatusCode, StatusCodeError);
            w.EndMessage(s);
        }
        uint flags = c.TraceFlags | ContextHasIsRemote | (span.ParentIsRemote ? ContextIsRemote : 0);
        w.Fixed32Field(Flags, flags);
        w.EndMessage(m);
    }

    static void KeyValue(ProtoWriter w, int field, in SpanAttribute a)
    {
        int kv = w.BeginMessage(field);
        w.StringField(KeyValueKey, a.Key);
        int any = w.BeginMessage(KeyValueValue);
        switch (a.Kind)
        {
            case SpanAttribute.ValueKind.String: w.StringField(AnyString, a.Text!); break;
            case SpanAttribute.ValueKind.Bool: w.VarintField(AnyBool, (ulong)a.Number); break;
            default: w.VarintField(AnyInt, (ulong)a.Number); break;
        }
        w.EndMessage(any);
        w.EndMessage(kv);
    }
}
