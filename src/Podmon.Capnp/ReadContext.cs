namespace Podmon.Capnp;

/// <summary>
/// Per-message read state shared by every reader of one message: the traversal budget (words read,
/// as in the C++ implementation) and the segment table. Lives in the caller's storage (a local or a
/// field of a long-lived object) and is handed to <see cref="MessageReader"/> by reference, so reading
/// allocates nothing; a reused context also reuses its segment table array.
/// </summary>
public struct ReadContext
{
    public const long DefaultTraversalLimitWords = 8L * 1024 * 1024;
    public const int DefaultNestingLimit = 64;

    /// <summary>Words that may be read per message; 0 means <see cref="DefaultTraversalLimitWords"/>.</summary>
    public long TraversalLimitWords { get; set; }

    /// <summary>Maximum pointer depth; 0 means <see cref="DefaultNestingLimit"/>.</summary>
    public int NestingLimit { get; set; }

    /// <summary>Words still readable for the current message.</summary>
    public readonly long WordsLeft => _wordsLeft;

    internal long _wordsLeft;
    internal int _segmentCount;
    internal int _totalWords;
    // Prefix sums of segment sizes (word index of each segment start, plus the end); only for multi-segment messages.
    internal int[]? _segmentStarts;

    internal void Charge(long words)
    {
        if (words < 1)
            words = 1;
        if ((_wordsLeft -= words) < 0)
        {
            _wordsLeft = 0;
            Throw.TraversalLimit();
        }
    }

    internal readonly void SegmentBounds(uint segmentId, out int start, out int end)
    {
        if (segmentId >= (uint)_segmentCount)
            Throw.Format($"pointer refers to segment {segmentId}, but the message has {_segmentCount}");
        if (_segmentCount == 1)
        {
            start = 0;
            end = _totalWords;
            return;
        }
        start = _segmentStarts![segmentId];
        end = _segmentStarts[segmentId + 1];
    }
}
