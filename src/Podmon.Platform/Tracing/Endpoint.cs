using System.Globalization;
using Podmon.Sys;

namespace Podmon.Tracing;

/// <summary>
/// Where the OTLP/gRPC collector listens: <c>http://host:port</c>, or <c>host:port</c> without a
/// scheme as the OpenTelemetry SDKs accept it; the port defaults to OTLP/gRPC's 4317. Cleartext
/// only (h2c): <c>https</c> is refused rather than silently sent in the clear. The host is a
/// numeric IPv4 or [IPv6] address, <c>localhost</c>, or a name from /etc/hosts: the static binary
/// has no resolver (glibc's getaddrinfo needs NSS modules of a shared libc), so there is no DNS.
/// </summary>
public sealed class Endpoint
{
    public const int DefaultPort = 4317;

    Endpoint(string host, int port)
    {
        Host = host;
        Port = port;
    }

    /// <summary>The host without brackets.</summary>
    public string Host { get; }
    public int Port { get; }

    /// <summary>The HTTP/2 :authority, e.g. "127.0.0.1:4317" or "[::1]:4317".</summary>
    public string Authority => Host.Contains(':') ? $"[{Host}]:{Port}" : $"{Host}:{Port}";

    public override string ToString() => Authority;

    /// <summary>Parses <paramref name="text"/>; a syntax error names <paramref name="source"/> (the flag or variable it came from).</summary>
    public static Endpoint Parse(string text, string source)
    {
        TracingConfigException Bad(string why) => new($"{source} '{text}': {why}");
        ReadOnlySpan<char> s = text.AsSpan().Trim();
        int scheme = s.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
        {
            ReadOnlySpan<char> name = s[..scheme];
            if (name.Equals("https", StringComparison.OrdinalIgnoreCase))
                throw Bad("TLS (https) is not supported; the collector must accept cleartext HTTP/2 (http://)");
            if (!name.Equals("http", StringComparison.OrdinalIgnoreCase))
                throw Bad($"unsupported scheme '{name}' (http://host:port or host:port)");
            s = s[(scheme + 3)..];
        }
        int slash = s.IndexOf('/');
        if (slash >= 0)
        {
            if (!s[slash..].SequenceEqual("/")) throw Bad("an OTLP/gRPC endpoint has no path");
            s = s[..slash];
        }
        if (s.IndexOf('@') >= 0) throw Bad("user information is not supported");
        ReadOnlySpan<char> host, port = default;
        bool hasPort;
        if (s.StartsWith("["))
        {
            int close = s.IndexOf(']');
            if (close < 0) throw Bad("unclosed '[' in an IPv6 address");
            host = s[1..close];
            ReadOnlySpan<char> rest = s[(close + 1)..];
            if (rest.Length > 0 && rest[0] != ':') throw Bad("expected ':port' after ']'");
            hasPort = rest.Length > 0;
            if (hasPort) port = rest[1..];
            if (Libc.ParseNumericAddress(host.ToString()) is not { Length: 16 }) throw Bad("not an IPv6 address in brackets");
        }
        else
        {
            int colon = s.IndexOf(':');
            if (colon >= 0 && s[(colon + 1)..].IndexOf(':') >= 0) throw Bad("an IPv6 address must be in brackets, e.g. http://[::1]:4317");
            hasPort = colon >= 0;
            host = hasPort ? s[..colon] : s;
            if (hasPort) port = s[(colon + 1)..];
        }
        if (host.IsEmpty) throw Bad("no host");
        int p = DefaultPort;
        if (hasPort && !TryPort(port, out p)) throw Bad("the port must be a number from 1 to 65535");
        return new Endpoint(host.ToString(), p);
    }

    static bool TryPort(ReadOnlySpan<char> s, out int port) =>
        int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535;

    /// <summary>
    /// The addresses to try, in order: the numeric address itself; for <c>localhost</c> 127.0.0.1
    /// then ::1; else the name's addresses in /etc/hosts (<paramref name="hostsFile"/>). Throws
    /// <see cref="IOException"/> saying why when there are none.
    /// </summary>
    public IReadOnlyList<byte[]> Resolve(string hostsFile = "/etc/hosts")
    {
        if (Libc.ParseNumericAddress(Host) is { } numeric) return [numeric];
        if (Host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
            return [[127, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]];
        List<byte[]> found = HostsFile.Lookup(hostsFile, Host);
        if (found.Count == 0)
            throw new IOException($"host '{Host}' is not a numeric address, localhost or a name in {hostsFile} (podmon does not query DNS)");
        return found;
    }
}
