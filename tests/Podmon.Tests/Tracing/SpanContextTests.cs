using Podmon.Tracing;

namespace Podmon.Tests.Tracing;

/// <summary>traceparent parsing by the W3C Trace Context rules (version 00, and how a later version is read).</summary>
public class SpanContextTests
{
    const string Valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    [Fact]
    public void ParsesTheSpecificationsExample()
    {
        Assert.True(SpanContext.TryParseTraceParent(Valid, out SpanContext c));
        Assert.True(c.IsValid);
        Assert.True(c.IsRemote);
        Assert.True(c.IsSampled);
        Assert.Equal("4bf92f3577b34da6a3ce929d0e0e4736", c.TraceIdHex);
        Assert.Equal("00f067aa0ba902b7", c.SpanIdHex);
        Assert.Equal(Valid, c.ToTraceParent());
        Assert.Null(c.TraceState);
        Span<byte> id = stackalloc byte[16];
        c.WriteTraceId(id);
        Assert.Equal(Convert.FromHexString("4bf92f3577b34da6a3ce929d0e0e4736"), id.ToArray());
        c.WriteSpanId(id);
        Assert.Equal(Convert.FromHexString("00f067aa0ba902b7"), id[..8].ToArray());
    }

    [Fact]
    public void KeepsUnsampledFlagsAndTraceState()
    {
        Assert.True(SpanContext.TryParseTraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", out SpanContext c));
        Assert.False(c.IsSampled);
        SpanContext withState = c.WithTraceState("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
        Assert.Equal("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7", withState.TraceState);
        Assert.Equal(c.SpanIdHex, withState.SpanIdHex);
        Assert.Null(c.WithTraceState("").TraceState);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0", "one character short")]
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011", "version 00 with a character more")]
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", "version 00 with fields appended")]
    [InlineData("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "uppercase trace id")]
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01", "uppercase span id")]
    [InlineData("0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "uppercase version")]
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", "a non-hex character")]
    [InlineData("00-00000000000000000000000000000000-00f067aa0ba902b7-01", "all-zero trace id")]
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "all-zero span id")]
    [InlineData("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version ff")]
    [InlineData("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "wrong first separator")]
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01", "wrong second separator")]
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01", "wrong third separator")]
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x", "non-hex flags")]
    [InlineData(" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "leading space")]
    [InlineData("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", "later version, 56th character not a dash")]
    public void RejectsMalformed(string header, string why)
    {
        Assert.False(SpanContext.TryParseTraceParent(header, out SpanContext c), why);
        Assert.False(c.IsValid, why);
    }

    [Theory]
    [InlineData("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]
    [InlineData("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds")]
    public void ReadsALaterVersionByTheVersion00Layout(string header)
    {
        Assert.True(SpanContext.TryParseTraceParent(header, out SpanContext c));
        Assert.Equal("00f067aa0ba902b7", c.SpanIdHex);
    }

    [Fact]
    public void DefaultIsInvalid()
    {
        Assert.False(default(SpanContext).IsValid);
        Assert.Equal("(invalid span context)", default(SpanContext).ToString());
    }
}
