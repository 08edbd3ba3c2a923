using Podmon.Tracing;

namespace Podmon.Tests.Tracing;

/// <summary>The collector's address as OTEL and conmon-rs write it, and the lookup without DNS.</summary>
public class EndpointTests
{
    [Theory]
    [InlineData("http://127.0.0.1:4317", "127.0.0.1", 4317, "127.0.0.1:4317")]
    [InlineData("HTTP://127.0.0.1:4318/", "127.0.0.1", 4318, "127.0.0.1:4318")]
    [InlineData("127.0.0.1:9000", "127.0.0.1", 9000, "127.0.0.1:9000")]
    [InlineData("http://collector", "collector", 4317, "collector:4317")]
    [InlineData("localhost", "localhost", 4317, "localhost:4317")]
    [InlineData("http://[::1]:4317", "::1", 4317, "[::1]:4317")]
    [InlineData("[fe80::1]", "fe80::1", 4317, "[fe80::1]:4317")]
    [InlineData("  otel.example:55680  ", "otel.example", 55680, "otel.example:55680")]
    public void Parses(string text, string host, int port, string authority)
    {
        Endpoint e = Endpoint.Parse(text, "X");
        Assert.Equal(host, e.Host);
        Assert.Equal(port, e.Port);
        Assert.Equal(authority, e.Authority);
    }

    [Theory]
    [InlineData("https://c:4317", "TLS (https) is not supported; the collector must accept cleartext HTTP/2 (http://)")]
    [InlineData("unix:///run/otel.sock", "unsupported scheme 'unix' (http://host:port or host:port)")]
    [InlineData("http://c:4318/v1/traces", "an OTLP/gRPC endpoint has no path")]
    [InlineData("http://user@c:4317", "user information is not supported")]
    [InlineData("http://::1:4317", "an IPv6 address must be in brackets, e.g. http://[::1]:4317")]
    [InlineData("http://[c]:4317", "not an IPv6 address in brackets")]
    [InlineData("http://[::1]x", "expected ':port' after ']'")]
    [InlineData("http://:4317", "no host")]
    [InlineData("c:", "the port must be a number from 1 to 65535")]
    [InlineData("c:0", "the port must be a number from 1 to 65535")]
    [InlineData("c:+80", "the port must be a number from 1 to 65535")]
    public void RejectsWithAReason(string text, string why)
    {
        var e = Assert.Throws<TracingConfigException>(() => Endpoint.Parse(text, "--tracing-endpoint"));
        Assert.Equal($"--tracing-endpoint '{text}': {why}", e.Message);
    }

    [Fact]
    public void NumericAddressesAndLocalhostNeedNoLookup()
    {
        Assert.Equal([[10, 1, 2, 3]], Endpoint.Parse("10.1.2.3:1", "X").Resolve("/nonexistent"));
        byte[] v6 = Assert.Single(Endpoint.Parse("[::1]:1", "X").Resolve("/nonexistent"));
        Assert.Equal(16, v6.Length);
        Assert.Equal(1, v6[15]);
        IReadOnlyList<byte[]> local = Endpoint.Parse("LocalHost:1", "X").Resolve("/nonexistent");
        Assert.Equal([127, 0, 0, 1], local[0]);
        Assert.Equal(16, local[1].Length);
    }

    [Fact]
    public void NamesComeFromTheHostsFileOnly()
    {
        string hosts = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(hosts,
            [
                "# comment otel",
                "10.9.8.7\tcollector otel   # trailing comment",
                "fd00::5 otel",
                "not-an-address otel",
                "10.0.0.1 otel-other",
            ]);
            IReadOnlyList<byte[]> found = Endpoint.Parse("OTEL:4317", "X").Resolve(hosts);
            Assert.Equal(2, found.Count);
            Assert.Equal([10, 9, 8, 7], found[0]);
            Assert.Equal(0xfd, found[1][0]);
            var e = Assert.Throws<IOException>(() => Endpoint.Parse("otel.example.com", "X").Resolve(hosts));
            Assert.Equal($"host 'otel.example.com' is not a numeric address, localhost or a name in {hosts} (podmon does not query DNS)", e.Message);
        }
        finally
        {
            File.Delete(hosts);
        }
    }
}
