using System.Buffers.Binary;

namespace Podmon.Tracing;

/// <summary>
/// The W3C Trace Context of one span: a 16-byte trace id, an 8-byte span id, the trace flags and
/// the vendors' tracestate carried as given. It is how a span started here joins the engine's
/// trace: CRI-O sends its span as a <c>traceparent</c> (and maybe <c>tracestate</c>) in the
/// request's metadata, as conmon-rs's propagator reads it. Default is the invalid (empty) context.
/// </summary>
public readonly struct SpanContext
{
    public const byte SampledFlag = 0x01;

    readonly ulong _traceHi, _traceLo, _spanId;

    internal SpanContext(ulong traceHi, ulong traceLo, ulong spanId, byte flags, string? traceState, bool isRemote)
    {
        _traceHi = traceHi;
        _traceLo = traceLo;
        _spanId = spanId;
        TraceFlags = flags;
        TraceState = traceState;
        IsRemote = isRemote;
    }

    /// <summary>The tracestate header as the caller gave it (null without one).</summary>
    public string? TraceState { get; }

    public byte TraceFlags { get; }

    /// <summary>Parsed from a traceparent (the parent lives in another process), not made here.</summary>
    public bool IsRemote { get; }

    /// <summary>Both ids are non-zero.</summary>
    public bool IsValid => (_traceHi | _traceLo) != 0 && _spanId != 0;

    public bool IsSampled => (TraceFlags & SampledFlag) != 0;

    internal ulong TraceHi => _traceHi;
    internal ulong TraceLo => _traceLo;
    internal ulong SpanId => _spanId;

    /// <summary>The trace id's 16 bytes, as on the wire.</summary>
    public void WriteTraceId(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, _traceHi);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _traceLo);
    }

    /// <summary>The span id's 8 bytes, as on the wire.</summary>
    public void WriteSpanId(Span<byte> destination) => BinaryPrimitives.WriteUInt64BigEndian(destination, _spanId);

    public string TraceIdHex => $"{_traceHi:x16}{_traceLo:x16}";
    public string SpanIdHex => $"{_spanId:x16}";

    /// <summary>The version-00 traceparent header of this context.</summary>
    public string ToTraceParent() => $"00-{TraceIdHex}-{SpanIdHex}-{TraceFlags:x2}";

    /// <summary>
    /// Parses a traceparent header (W3C Trace Context level 1, section 3.2): version "-" trace-id
    /// "-" parent-id "-" trace-flags, all lowercase hex. Version 00 is exactly 55 characters; a
    /// higher version may append "-" and more fields, which are ignored; version ff, all-zero ids,
    /// uppercase or other characters are rejected. The result is remote and has no tracestate
    /// (see <see cref="WithTraceState"/>).
    /// </summary>
    public static bool TryParseTraceParent(ReadOnlySpan<char> traceparent, out SpanContext context)
    {
        context = default;
        ReadOnlySpan<char> s = traceparent;
        if (s.Length < 55) return false;
        if (!TryHex(s[..2], out ulong version) || version == 0xff) return false;
        if (version == 0 ? s.Length != 55 : s.Length > 55 && s[55] != '-') return false;
        if (s[2] != '-' || s[35] != '-' || s[52] != '-') return false;
        if (!TryHex(s.Slice(3, 16), out ulong hi) || !TryHex(s.Slice(19, 16), out ulong lo)) return false;
        if (!TryHex(s.Slice(36, 16), out ulong span) || !TryHex(s.Slice(53, 2), out ulong flags)) return false;
        if ((hi | lo) == 0 || span == 0) return false;
        context = new SpanContext(hi, lo, span, (byte)flags, null, isRemote: true);
        return true;
    }

    /// <summary>This context carrying a tracestate header (null or empty: none).</summary>
    public SpanContext WithTraceState(string? traceState) =>
        new(_traceHi, _traceLo, _spanId, TraceFlags, string.IsNullOrEmpty(traceState) ? null : traceState, IsRemote);

    static bool TryHex(ReadOnlySpan<char> s, out ulong value)
    {
        value = 0;
        foreach (char c in s)
        {
            int d = c is >= '0' and <= '9' ? c - '0' : c is >= 'a' and <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0) return false;
            value = value << 4 | (uint)d;
        }
        return true;
    }

    public override string ToString() => IsValid ? ToTraceParent() : "(invalid span context)";
}
