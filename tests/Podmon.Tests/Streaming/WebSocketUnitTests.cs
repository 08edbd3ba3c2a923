using System.Text;
using Podmon.Streaming;

namespace Podmon.Tests.Streaming;

/// <summary>The streaming connection's protocol pieces on their own: the handshake answer, frame input and the channel protocol.</summary>
public class WebSocketUnitTests
{
    [Fact]
    public void TheUpgradeAnswerCarriesTheRfcAcceptKeyAndTheProtocol()
    {
        // RFC 6455 §1.3: key "dGhlIHNhbXBsZSBub25jZQ==" is accepted as "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".
        string answer = Encoding.ASCII.GetString(HttpHandshake.SwitchingProtocols("dGhlIHNhbXBsZSBub25jZQ==", "v5.channel.k8s.io"));
        Assert.StartsWith("HTTP/1.1 101 Switching Protocols\r\n", answer);
        Assert.Contains("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", answer);
        Assert.Contains("\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n", answer);
        Assert.EndsWith("\r\n\r\n", answer);
        Assert.DoesNotContain("Sec-WebSocket-Protocol", Encoding.ASCII.GetString(HttpHandshake.SwitchingProtocols("dGhlIHNhbXBsZSBub25jZQ==", null)));
    }

    static byte[] Masked(byte first, byte[] payload, uint mask = 0x1234_5678)
    {
        var frame = new List<byte> { first };
        if (payload.Length < 126) frame.Add((byte)(0x80 | payload.Length));
        else frame.AddRange([0x80 | 126, (byte)(payload.Length >> 8), (byte)payload.Length]);
        byte[] key = BitConverter.GetBytes(mask);
        frame.AddRange(key);
        for (int i = 0; i < payload.Length; i++) frame.Add((byte)(payload[i] ^ key[i & 3]));
        return [.. frame];
    }

    /// <summary>Feeds <paramref name="wire"/> to a reader in pieces of <paramref name="step"/> bytes, the way a socket might deliver it.</summary>
    static List<(FrameEvent Event, string Payload, bool Starts, bool Ends)> Read(byte[] wire, int step)
    {
        var reader = new FrameReader();
        var seen = new List<(FrameEvent, string, bool, bool)>();
        byte[] buffer = new byte[wire.Length];
        int start = 0, end = 0;
        while (true)
        {
            FrameEvent e = reader.Next(buffer.AsSpan(start, end - start), out int consumed, out Span<byte> payload);
            start += consumed;
            if (e == FrameEvent.NeedMore)
            {
                if (end == wire.Length) return seen;
                int n = Math.Min(step, wire.Length - end);
                wire.AsSpan(end, n).CopyTo(buffer.AsSpan(end));
                end += n;
                continue;
            }
            if (e == FrameEvent.Error) throw new InvalidOperationException($"{reader.ErrorCode}: {reader.Error}");
            bool data = e == FrameEvent.Data;
            if (!data || payload.Length > 0 || reader.StartsMessage || reader.EndsMessage)
                seen.Add((e, Encoding.ASCII.GetString(payload), data && reader.StartsMessage, data && reader.EndsMessage));
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(1000)]
    public void AFragmentedMessageArrivesUnmaskedInOrderWithAPingBetween(int step)
    {
        byte[] wire = [.. Masked(0x02, "hello "u8.ToArray()), .. Masked(0x89, "p"u8.ToArray()), .. Masked(0x80, "world"u8.ToArray(), 0xA5A5_0F0F)];
        var seen = Read(wire, step);
        Assert.Equal("hello world", string.Concat(seen.Where(s => s.Event == FrameEvent.Data).Select(s => s.Payload)));
        Assert.True(seen[0].Starts);
        Assert.Single(seen, s => s.Starts);
        Assert.True(seen[^1].Ends);
        Assert.Single(seen, s => s.Ends);
        Assert.Contains((FrameEvent.Control, "p", false, false), seen);
    }

    [Theory]
    [InlineData(new byte[] { 0x82, 0x02, 0x00, 0x41 }, 1002)]                         // unmasked
    [InlineData(new byte[] { 0xC2, 0x80, 0, 0, 0, 0 }, 1002)]                         // RSV1 without an extension
    [InlineData(new byte[] { 0x82, 0xFF, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 1009)] // a 1 TiB frame
    [InlineData(new byte[] { 0x09, 0x80, 0, 0, 0, 0 }, 1002)]                         // a fragmented ping
    [InlineData(new byte[] { 0x80, 0x80, 0, 0, 0, 0 }, 1002)]                         // a continuation out of nowhere
    public void ABadFrameIsAnErrorAndConsumesNothing(byte[] frame, int code)
    {
        var reader = new FrameReader();
        Assert.Equal(FrameEvent.Error, reader.Next(frame, out int consumed, out _));
        Assert.Equal(0, consumed);
        Assert.Equal(code, reader.ErrorCode);
        Assert.False(string.IsNullOrEmpty(reader.Error));
    }

    [Fact]
    public void ANewMessageBeforeTheLastEndedIsAnError()
    {
        var reader = new FrameReader();
        byte[] wire = [.. Masked(0x02, "a"u8.ToArray()), .. Masked(0x82, "b"u8.ToArray())];
        Assert.Equal(FrameEvent.Data, reader.Next(wire, out int consumed, out _));
        Assert.Equal(FrameEvent.Error, reader.Next(wire.AsSpan(consumed), out _, out _));
        Assert.Equal(1002, reader.ErrorCode);
    }

    sealed class Transport(params int[] streamed) : IChannelTransport
    {
        public readonly List<(int Channel, string Data)> Delivered = [];
        public readonly List<(ushort Code, string Reason)> Failures = [];
        public readonly List<byte[]> Frames = [];
        public bool Streams(int channel) => streamed.Contains(channel);
        public void Deliver(int channel, ReadOnlySpan<byte> data) => Delivered.Add((channel, Encoding.ASCII.GetString(data)));
        public void Fail(ushort code, string reason) => Failures.Add((code, reason));
        public void Write(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload) => Frames.Add([.. header, .. payload]);
    }

    [Fact]
    public void AStreamedChannelIsHandedOnPieceByPieceAnotherWhole()
    {
        var t = new Transport(0);
        var channels = new ChannelProtocol(t, base64: false);
        channels.StartMessage();
        channels.Payload("\0ab"u8);
        channels.Payload("cd"u8);
        channels.EndMessage();
        channels.StartMessage();
        channels.Payload("\u0004{\"Width\":"u8);
        Assert.Equal([(0, "ab"), (0, "cd")], t.Delivered);
        channels.Payload("80}"u8);
        channels.EndMessage();
        Assert.Equal((4, "{\"Width\":80}"), t.Delivered[^1]);
        Assert.Empty(t.Failures);
    }

    [Fact]
    public void Base64MessagesAreDecodedWholeAndMalformedOnesFail()
    {
        var t = new Transport(0);
        var channels = new ChannelProtocol(t, base64: true);
        channels.StartMessage();
        channels.Payload("0aGVs"u8);
        channels.Payload("bG8="u8);
        Assert.Empty(t.Delivered);
        channels.EndMessage();
        Assert.Equal([(0, "hello")], t.Delivered);
        channels.StartMessage();
        channels.Payload("0***"u8);
        channels.EndMessage();
        Assert.Equal([(WebSocketFrame.CloseInvalidData, "malformed base64 channel message")], t.Failures);
    }

    [Fact]
    public void SentDataIsOneFrameWithItsChannel()
    {
        var binary = new Transport();
        new ChannelProtocol(binary, base64: false).Send(1, "hi"u8);
        Assert.Equal([0x82, 3, 1, (byte)'h', (byte)'i'], binary.Frames.Single());
        var text = new Transport();
        new ChannelProtocol(text, base64: true).Send(2, "hi"u8);
        Assert.Equal([0x81, 5, .. "2aGk="u8.ToArray()], text.Frames.Single());
    }
}
