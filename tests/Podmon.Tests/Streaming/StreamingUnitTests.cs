using System.Text;
using Podmon.Streaming;

namespace Podmon.Tests.Streaming;

/// <summary>The streaming server's parsers and its SHA-1, without a server.</summary>
public class StreamingUnitTests
{
    [Theory]
    [InlineData("", "da39a3ee5e6b4b0d3255bfef95601890afd80709")]
    [InlineData("abc", "a9993e364706816aba3e25717850c26c9cd0d89d")]
    [InlineData("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1")]
    [InlineData("The quick brown fox jumps over the lazy dog", "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12")]
    public void Sha1MatchesTheFipsVectors(string input, string hex)
    {
        Span<byte> hash = stackalloc byte[Sha1.HashSize];
        Sha1.Hash(Encoding.ASCII.GetBytes(input), hash);
        Assert.Equal(hex, Convert.ToHexStringLower(hash));
    }

    [Fact]
    public void Sha1MatchesTheFrameworkAtEveryLengthAroundTheBlockEdges()
    {
        var data = new byte[300];
        new Random(11).NextBytes(data);
        Span<byte> hash = stackalloc byte[Sha1.HashSize];
        for (int n = 0; n <= data.Length; n++)
        {
            Sha1.Hash(data.AsSpan(0, n), hash);
            Assert.Equal(System.Security.Cryptography.SHA1.HashData(data.AsSpan(0, n)), hash.ToArray());
        }
    }

    [Fact]
    public void AcceptKeyIsTheRfcExample()
    {
        // RFC 6455 §1.3: key "dGhlIHNhbXBsZSBub25jZQ==" is accepted as "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".
        Span<byte> hash = stackalloc byte[Sha1.HashSize];
        Sha1.Hash("dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11"u8, hash);
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", Convert.ToBase64String(hash));
    }

    [Fact]
    public void RequestHeadKeepsWhatAnUpgradeNeeds()
    {
        byte[] raw = Encoding.ASCII.GetBytes("GET /exec/abc?x=1 HTTP/1.1\r\nHost: h\r\nupgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" +
                                             "Sec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a, b\r\nSec-WebSocket-Protocol: c\r\n\r\n");
        Assert.Equal(raw.Length, HttpRequestHead.FindEnd(raw));
        Assert.Equal(-1, HttpRequestHead.FindEnd(raw.AsSpan(0, raw.Length - 1)));
        HttpRequestHead h = HttpRequestHead.Parse(raw);
        Assert.Equal(0, h.ErrorStatus);
        Assert.Equal(("GET", "/exec/abc", "x=1"), (h.Method, h.Path, h.Query));
        Assert.True(HttpRequestHead.HasToken(h.Connection, "upgrade"));
        Assert.Equal("websocket", h.Upgrade);
        Assert.Equal("a, b, c", h.Protocols);
    }

    [Theory]
    [InlineData("GET\r\n\r\n")]
    [InlineData("GET / SPDY\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nno colon here\r\n\r\n")]
    public void MalformedHeadsAre400(string raw)
    {
        HttpRequestHead h = HttpRequestHead.Parse(Encoding.ASCII.GetBytes(raw));
        Assert.Equal(400, h.ErrorStatus);
        Assert.NotNull(h.Error);
    }

    [Theory]
    [InlineData("""{"Width":80,"Height":24}""", true, 80, 24)]
    [InlineData("""{ "height" : 5, "width": 7 }""", true, 7, 5)]
    [InlineData("""{"Width":80}""", false, 0, 0)]
    [InlineData("""{"Width":70000,"Height":1}""", false, 0, 0)]
    [InlineData("garbage", false, 0, 0)]
    public void ResizeMessages(string json, bool ok, int width, int height)
    {
        Assert.Equal(ok, ResizeMessage.TryParse(Encoding.UTF8.GetBytes(json), out ushort w, out ushort h));
        if (ok) Assert.Equal((width, height), ((int)w, (int)h));
    }

    [Theory]
    [InlineData("port=80", new[] { 80 })]
    [InlineData("port=80&port=443", new[] { 80, 443 })]
    [InlineData("port=1,2%2C3&other=x", new[] { 1, 2, 3 })]
    public void PortsFromTheQuery(string query, int[] expected)
    {
        ushort[]? ports = PortForwardSession.ParsePorts(query, out string? error);
        Assert.Null(error);
        Assert.Equal(expected, ports!.Select(p => (int)p));
    }

    [Theory]
    [InlineData("")]
    [InlineData("port=0")]
    [InlineData("port=65536")]
    [InlineData("port=http")]
    public void BadPortQueriesAreRefused(string query)
    {
        Assert.Null(PortForwardSession.ParsePorts(query, out string? error));
        Assert.NotNull(error);
    }
}
