using System.Text;

namespace Podmon.Streaming;

/// <summary>
/// An HTTP/1.1 request head (request line and headers), parsed from bytes that end in an empty
/// line; only what a WebSocket upgrade needs is kept. A malformed head is an HTTP error status
/// and a reason, never an exception: the peer gets the status and its connection is closed.
/// </summary>
sealed class HttpRequestHead
{
    /// <summary>Request line and headers together; a longer head gets 431.</summary>
    public const int MaxSize = 8 * 1024;

    public string Method = "", Path = "", Query = "";
    public string? Upgrade, Connection, Key, Version, Protocols;
    public int ErrorStatus;
    public string? Error;

    /// <summary>Where the head ends (after its empty line), or -1 while it is incomplete.</summary>
    public static int FindEnd(ReadOnlySpan<byte> data)
    {
        int at = data.IndexOf("\r\n\r\n"u8);
        return at < 0 ? -1 : at + 4;
    }

    public static HttpRequestHead Parse(ReadOnlySpan<byte> head)
    {
        var r = new HttpRequestHead();
        int eol = head.IndexOf("\r\n"u8);
        ReadOnlySpan<byte> line = head[..eol];
        int sp1 = line.IndexOf((byte)' '), sp2 = line.LastIndexOf((byte)' ');
        if (sp1 <= 0 || sp2 <= sp1 || !line[(sp2 + 1)..].StartsWith("HTTP/1."u8))
            return r.Fail(400, "malformed request line");
        r.Method = Ascii(line[..sp1]);
        string target = Ascii(line[(sp1 + 1)..sp2]);
        int q = target.IndexOf('?');
        r.Path = q < 0 ? target : target[..q];
        r.Query = q < 0 ? "" : target[(q + 1)..];
        ReadOnlySpan<byte> rest = head[(eol + 2)..];
        while (true)
        {
            eol = rest.IndexOf("\r\n"u8);
            if (eol <= 0) break; // the empty line
            ReadOnlySpan<byte> field = rest[..eol];
            rest = rest[(eol + 2)..];
            int colon = field.IndexOf((byte)':');
            if (colon <= 0) return r.Fail(400, "malformed header line");
            ReadOnlySpan<byte> name = field[..colon];
            string value = Ascii(field[(colon + 1)..].Trim((byte)' ').Trim((byte)'\t'));
            if (Is(name, "upgrade")) r.Upgrade = value;
            else if (Is(name, "connection")) r.Connection = Join(r.Connection, value);
            else if (Is(name, "sec-websocket-key")) r.Key = value;
            else if (Is(name, "sec-websocket-version")) r.Version = value;
            else if (Is(name, "sec-websocket-protocol")) r.Protocols = Join(r.Protocols, value);
        }
        return r;
    }

    HttpRequestHead Fail(int status, string reason)
    {
        ErrorStatus = status;
        Error = reason;
        return this;
    }

    static bool Is(ReadOnlySpan<byte> name, string lower) => Ascii(name).Equals(lower, StringComparison.OrdinalIgnoreCase);

    static string Join(string? a, string b) => a is null ? b : a + ", " + b;

    static string Ascii(ReadOnlySpan<byte> s) => Encoding.ASCII.GetString(s);

    /// <summary>Whether a comma-separated header value holds <paramref name="token"/> (case-insensitive).</summary>
    public static bool HasToken(string? value, string token)
    {
        if (value is null) return false;
        foreach (string part in value.Split(','))
            if (part.Trim().Equals(token, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }
}
