using System.Buffers.Binary;

namespace Podmon.Capnp;

public enum FrameStatus
{
    /// <summary>Not enough bytes yet; <c>length</c> is the minimum total the buffer must reach.</summary>
    NeedMore,
    /// <summary>A whole frame is buffered; <c>length</c> is its total size (header + segments).</summary>
    Complete,
}

/// <summary>
/// Standard stream framing: u32 segmentCount-1, u32 size (words) per segment, zero padding to a word
/// boundary, then the segments back to back.
/// </summary>
public static class Framing
{
    public const int DefaultMaxMessageBytes = 64 * 1024 * 1024;
    public const int MaxSegmentCount = 512;

    /// <summary>
    /// Inspects the bytes buffered so far. Oversized messages and absurd segment counts are refused from
    /// the header alone (throws <see cref="CapnpFormatException"/>), before the body is buffered.
    /// </summary>
    public static FrameStatus Check(ReadOnlySpan<byte> buffered, out int length, int maxMessageBytes = DefaultMaxMessageBytes)
    {
        if (buffered.Length < 8)
        {
            length = 8;
            return FrameStatus.NeedMore;
        }

        uint countMinusOne = BinaryPrimitives.ReadUInt32LittleEndian(buffered);
        if (countMinusOne >= MaxSegmentCount)
            Throw.Format($"frame declares {(ulong)countMinusOne + 1} segments (max {MaxSegmentCount})");

        int segmentCount = (int)countMinusOne + 1;
        int headerBytes = HeaderBytes(segmentCount);
        long total = headerBytes + 8L * BinaryPrimitives.ReadUInt32LittleEndian(buffered.Slice(4));
        if (total > maxMessageBytes)
            TooLarge(total, maxMessageBytes);

        if (buffered.Length < headerBytes)
        {
            length = headerBytes;
            return FrameStatus.NeedMore;
        }

        for (int i = 1; i < segmentCount; i++)
        {
            total += 8L * BinaryPrimitives.ReadUInt32LittleEndian(buffered.Slice(4 + 4 * i));
            if (total > maxMessageBytes)
                TooLarge(total, maxMessageBytes);
        }

        length = (int)total;
        return buffered.Length >= total ? FrameStatus.Complete : FrameStatus.NeedMore;
    }

    /// <summary>Header size for a segment count: 4·(1+N) rounded up to a multiple of 8.</summary>
    public static int HeaderBytes(int segmentCount) => (4 * (segmentCount + 1) + 7) & ~7;

    private static void TooLarge(long total, int max) =>
        Throw.Format($"frame of at least {total} bytes exceeds the maximum message size of {max} bytes");
}
