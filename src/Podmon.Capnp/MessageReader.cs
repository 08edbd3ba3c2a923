using System.Buffers.Binary;

namespace Podmon.Capnp;

/// <summary>
/// A received message: zero-copy view over one complete frame (segment table + segments).
/// <code>
/// ReadContext ctx = default;
/// var msg = new MessageReader(frame, ref ctx);
/// var root = msg.Root;            // StructReader
/// </code>
/// </summary>
public readonly ref struct MessageReader
{
    private readonly ReadOnlySpan<byte> _segments;
    private readonly ref ReadContext _ctx;

    /// <summary>Parses the segment table and resets <paramref name="ctx"/> for this message.</summary>
    /// <param name="frame">Exactly one frame, as delimited by <see cref="Framing.Check"/>.</param>
    public MessageReader(ReadOnlySpan<byte> frame, ref ReadContext ctx)
    {
        if (frame.Length < 8)
            Throw.Format("frame is shorter than its segment table");
        uint countMinusOne = BinaryPrimitives.ReadUInt32LittleEndian(frame);
        if (countMinusOne >= Framing.MaxSegmentCount)
            Throw.Format($"frame declares {(ulong)countMinusOne + 1} segments (max {Framing.MaxSegmentCount})");
        int count = (int)countMinusOne + 1;
        int header = Framing.HeaderBytes(count);
        if (frame.Length < header)
            Throw.Format("frame is shorter than its segment table");

        long words = 0;
        if (count > 1)
        {
            if (ctx._segmentStarts is null || ctx._segmentStarts.Length < count + 1)
                ctx._segmentStarts = new int[Math.Max(count + 1, 8)];
            ctx._segmentStarts[0] = 0;
        }
        for (int i = 0; i < count; i++)
        {
            words += BinaryPrimitives.ReadUInt32LittleEndian(frame.Slice(4 + 4 * i));
            if (words * 8 > frame.Length - header)
                Throw.Format("segment table declares more bytes than the frame holds");
            if (count > 1)
                ctx._segmentStarts![i + 1] = (int)words;
        }
        if (words * 8 != frame.Length - header)
            Throw.Format($"frame length {frame.Length} does not match its segment table ({header} + {words * 8} bytes)");

        ctx._segmentCount = count;
        ctx._totalWords = (int)words;
        ctx._wordsLeft = ctx.TraversalLimitWords > 0 ? ctx.TraversalLimitWords : ReadContext.DefaultTraversalLimitWords;
        _segments = frame.Slice(header);
        _ctx = ref ctx;
    }

    public int SegmentCount => _ctx._segmentCount;

    /// <summary>The segments' bytes (frame without the segment table).</summary>
    public ReadOnlySpan<byte> Segments => _segments;

    /// <summary>The root pointer (word 0 of segment 0); null if segment 0 is empty.</summary>
    public PointerReader RootPointer
    {
        get
        {
            int nesting = _ctx.NestingLimit > 0 ? _ctx.NestingLimit : ReadContext.DefaultNestingLimit;
            _ctx.SegmentBounds(0, out _, out int end);
            return end == 0
                ? new PointerReader(_segments, ref _ctx, -1, 0, 0, nesting)
                : new PointerReader(_segments, ref _ctx, 0, 0, end, nesting);
        }
    }

    /// <summary>The root struct (an empty struct if the root pointer is null).</summary>
    public StructReader Root => RootPointer.GetStruct();
}
