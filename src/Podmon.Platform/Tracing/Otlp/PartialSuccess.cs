using System.Text;

namespace Podmon.Tracing.Otlp;

/// <summary>
/// ExportTraceServiceResponse.partial_success (field 1: rejected_spans = 1, error_message = 2):
/// a collector that took the request but not all of its spans says so here, with grpc-status 0.
/// Anything this reader does not understand counts as no partial success (the export succeeded).
/// </summary>
public readonly record struct PartialSuccess(long RejectedSpans, string? ErrorMessage)
{
    public static PartialSuccess Parse(ReadOnlySpan<byte> response)
    {
        long rejected = 0;
        string? message = null;
        if (!TryField(response, 1, out ReadOnlySpan<byte> inner)) return default;
        for (int at = 0; at < inner.Length;)
        {
            if (!TryVarint(inner, ref at, out ulong tag)) return default;
            int field = (int)(tag >> 3), wire = (int)(tag & 7);
            if (wire == 0)
            {
                if (!TryVarint(inner, ref at, out ulong v)) return default;
                if (field == 1) rejected = (long)v;
            }
            else if (wire == 2)
            {
                if (!TryVarint(inner, ref at, out ulong len) || len > (ulong)(inner.Length - at)) return default;
                if (field == 2) message = Encoding.UTF8.GetString(inner.Slice(at, (int)len));
                at += (int)len;
            }
            else return default;
        }
        return new PartialSuccess(rejected, message);
    }

    /// <summary>The last length-delimited field <paramref name="number"/> at the top level of <paramref name="message"/>.</summary>
    static bool TryField(ReadOnlySpan<byte> message, int number, out ReadOnlySpan<byte> value)
    {
        value = default;
        bool found = false;
        for (int at = 0; at < message.Length;)
        {
            if (!TryVarint(message, ref at, out ulong tag) || (tag & 7) != 2) return false;
            if (!TryVarint(message, ref at, out ulong len) || len > (ulong)(message.Length - at)) return false;
            if ((int)(tag >> 3) == number)
            {
                value = message.Slice(at, (int)len);
                found = true;
            }
            at += (int)len;
        }
        return found;
    }

    static bool TryVarint(ReadOnlySpan<byte> s, ref int at, out ulong value)
    {
        value = 0;
        for (int shift = 0; shift < 64 && at < s.Length; shift += 7)
        {
            byte b = s[at++];
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80) return true;
        }
        return false;
    }
}
