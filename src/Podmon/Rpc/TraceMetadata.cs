using Podmon.Capnp;
using Podmon.Diagnostics;
using Podmon.Schema;
using Podmon.Tracing;

namespace Podmon.Rpc;

/// <summary>
/// The caller's W3C trace context (<c>traceparent</c>, <c>tracestate</c>) from a request, where
/// each generation of client puts it: the v1.0 <c>metadata</c> map (which v0.7.x requests have
/// too), or a v0.7.x request's <c>metadataOld</c>, a flat JSON object (the Go client of CRI-O up
/// to 1.36 marshals its propagator's map there). A missing context gives a default (invalid) one;
/// a malformed one gives the same and a debug line: tracing never fails a call.
/// </summary>
static class TraceMetadata
{
    const string TraceParent = "traceparent", TraceState = "tracestate";

    public static SpanContext Parent(ConmonMethod method, StructReader request, bool old)
    {
        string? parent = null, state = null;
        TextTextMapEntryListReader map = SchemaGeneration.Metadata(method, request, old);
        for (int i = 0; i < map.Count; i++)
        {
            TextTextMapEntryReader e = map[i];
            if (e.Key.SequenceEqual("traceparent"u8)) parent = e.ValueString;
            else if (e.Key.SequenceEqual("tracestate"u8)) state = e.ValueString;
        }
        if (parent is null)
        {
            ReadOnlySpan<byte> json = SchemaGeneration.MetadataOld(method, request, old);
            if (!json.IsEmpty && !FlatJson.TryRead(json, TraceParent, TraceState, out parent, out state))
            {
                Log.Debug($"tracing: {method} request's metadataOld is not a flat JSON object of strings; no parent span");
                return default;
            }
        }
        if (parent is null) return default;
        if (!SpanContext.TryParseTraceParent(parent, out SpanContext context))
        {
            Log.Debug($"tracing: {method} request's traceparent '{parent}' is malformed; no parent span");
            return default;
        }
        return state is null ? context : context.WithTraceState(state);
    }
}
