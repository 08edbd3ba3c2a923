using Xunit;

namespace Podmon.Capnp.Tests;

public class FramingTests
{
    [Fact]
    public void IncrementalStatus()
    {
        byte[] frame = GoldenFrames.Load("create-container-two-segments-request");
        Assert.Equal(FrameStatus.NeedMore, Framing.Check(frame.AsSpan(0, 3), out int need));
        Assert.Equal(8, need);
        Assert.Equal(FrameStatus.NeedMore, Framing.Check(frame.AsSpan(0, 8), out need));
        Assert.Equal(16, need); // rest of the segment table
        Assert.Equal(FrameStatus.NeedMore, Framing.Check(frame.AsSpan(0, 16), out need));
        Assert.Equal(12288, need);
        Assert.Equal(FrameStatus.Complete, Framing.Check(frame.Concat(new byte[5]).ToArray(), out int length));
        Assert.Equal(12288, length);
    }

    [Fact]
    public void OversizedMessageIsRefusedFromTheHeaderAlone()
    {
        byte[] header = [0, 0, 0, 0, 0, 0, 0x10, 0]; // 1 segment of 2^20 words = 8 MiB
        var e = Assert.Throws<CapnpFormatException>(() => Framing.Check(header, out _, maxMessageBytes: 1 << 20));
        Assert.Contains("exceeds", e.Message);
        Assert.Equal(FrameStatus.NeedMore, Framing.Check(header, out int need));
        Assert.Equal(8 + (8 << 20), need);
        // default limit 64 MiB: a 2^24-word segment (128 MiB)
        Assert.Throws<CapnpFormatException>(() => Framing.Check([0, 0, 0, 0, 0, 0, 0, 1], out _));
        // second segment pushes it over, seen once the table is in
        byte[] two = [1, 0, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0x1f, 0, 0, 0, 0];
        Assert.Throws<CapnpFormatException>(() => Framing.Check(two, out _));
    }

    [Fact]
    public void AbsurdSegmentCountsAreRefused()
    {
        Assert.Throws<CapnpFormatException>(() => Framing.Check([0x00, 0x02, 0, 0, 1, 0, 0, 0], out _)); // 513 segments
        Assert.Throws<CapnpFormatException>(() => Framing.Check([0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0], out _));
        ReadContext ctx = default;
        Assert.Throws<CapnpFormatException>(() => new MessageReader([0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0], ref ctx).SegmentCount);
    }

    [Fact]
    public void MessageReaderRejectsLengthMismatch()
    {
        byte[] frame = GoldenFrames.Load("version-request");
        ReadContext ctx = default;
        Assert.Throws<CapnpFormatException>(() => new MessageReader(frame.AsSpan(0, frame.Length - 8), ref ctx).SegmentCount);
        Assert.Throws<CapnpFormatException>(() => new MessageReader(frame.Concat(new byte[8]).ToArray(), ref ctx).SegmentCount);
        Assert.Throws<CapnpFormatException>(() => new MessageReader(frame.AsSpan(0, 4), ref ctx).SegmentCount);
    }
}
