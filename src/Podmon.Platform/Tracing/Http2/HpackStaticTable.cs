using System.Text;

namespace Podmon.Tracing.Http2;

/// <summary>
/// The static table of RFC 7541 Appendix A: indices 1 to 61, the same for every connection. Held as
/// bytes so that an indexed field reaches the sink without conversion.
/// </summary>
internal static class HpackStaticTable
{
    public const int Count = 61;

    static readonly byte[][] s_names = new byte[Count][];
    static readonly byte[][] s_values = new byte[Count][];

    static HpackStaticTable()
    {
        ReadOnlySpan<string> entries =
        [
            ":authority", "",
            ":method", "GET",
            ":method", "POST",
            ":path", "/",
            ":path", "/index.html",
            ":scheme", "http",
            ":scheme", "https",
            ":status", "200",
            ":status", "204",
            ":status", "206",
            ":status", "304",
            ":status", "400",
            ":status", "404",
            ":status", "500",
            "accept-charset", "",
            "accept-encoding", "gzip, deflate",
            "accept-language", "",
            "accept-ranges", "",
            "accept", "",
            "access-control-allow-origin", "",
            "age", "",
            "allow", "",
            "authorization", "",
            "cache-control", "",
            "content-disposition", "",
            "content-encoding", "",
            "content-language", "",
            "content-length", "",
            "content-location", "",
            "content-range", "",
            "content-type", "",
            "cookie", "",
            "date", "",
            "etag", "",
            "expect", "",
            "expires", "",
            "from", "",
            "host", "",
            "if-match", "",
            "if-modified-since", "",
            "if-none-match", "",
            "if-range", "",
            "if-unmodified-since", "",
            "last-modified", "",
            "link", "",
            "location", "",
            "max-forwards", "",
            "proxy-authenticate", "",
            "proxy-authorization", "",
            "range", "",
            "referer", "",
            "refresh", "",
            "retry-after", "",
            "server", "",
            "set-cookie", "",
            "strict-transport-security", "",
            "transfer-encoding", "",
            "user-agent", "",
            "vary", "",
            "via", "",
            "www-authenticate", "",
        ];
        for (int i = 0; i < Count; i++)
        {
            s_names[i] = Encoding.ASCII.GetBytes(entries[2 * i]);
            s_values[i] = Encoding.ASCII.GetBytes(entries[2 * i + 1]);
        }
    }

    /// <summary>The entry at <paramref name="index"/>, 1 to <see cref="Count"/>.</summary>
    public static void Get(int index, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        name = s_names[index - 1];
        value = s_values[index - 1];
    }
}
