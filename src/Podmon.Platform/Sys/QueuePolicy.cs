namespace Podmon.Sys;

/// <summary>
/// The backpressure rule of one outbound queue, kept apart from any fd or loop so it can be tested
/// alone. Queued bytes at or past <see cref="HighWater"/> make the queue <see cref="Backlogged"/>
/// (its producer should stop) until they fall below <see cref="LowWater"/>; more than
/// <see cref="MaxQueued"/> is refused (the consumer is dropped); with a <see cref="StallMs"/>, a
/// queue that is backlogged, or finishing (its last bytes owed before a close), and takes nothing
/// for that long is <see cref="IsStalled"/>. The clock is read only when a stall deadline moves.
/// </summary>
public sealed class QueuePolicy(int highWater, int lowWater, int maxQueued = int.MaxValue, int stallMs = 0, Func<long>? clock = null)
{
    readonly Func<long> _clock = clock ?? Libc.MonotonicMs;

    public int HighWater { get; } = highWater;
    public int LowWater { get; } = lowWater;
    public int MaxQueued { get; } = maxQueued;
    /// <summary>0: never stalled.</summary>
    public int StallMs { get; } = stallMs;
    public bool Backlogged { get; private set; }
    public bool Finishing { get; private set; }
    /// <summary>When the queue counts as stalled if it takes nothing until then; 0 while no deadline runs.</summary>
    public long StallDeadline { get; private set; }

    /// <summary>May <paramref name="more"/> bytes join <paramref name="pending"/>?</summary>
    public bool Admits(int pending, int more) => (long)pending + more <= MaxQueued;

    /// <summary>Bytes were queued; true when that made the queue backlogged.</summary>
    public bool Queued(int pending)
    {
        if (Backlogged || pending < HighWater) return false;
        Backlogged = true;
        ArmStall();
        return true;
    }

    /// <summary>The consumer took bytes (<paramref name="progressed"/>) or was offered them; true when that relieved a backlog.</summary>
    public bool Taken(int pending, bool progressed)
    {
        if (Backlogged && pending < LowWater)
        {
            Backlogged = false;
            if (Finishing) ArmStall();
            else StallDeadline = 0;
            return true;
        }
        if (progressed && StallDeadline != 0) ArmStall();
        return false;
    }

    /// <summary>The last bytes are queued and the consumer is closed once it took them: it may stall from now on.</summary>
    public void Finish()
    {
        Finishing = true;
        if (StallDeadline == 0) ArmStall();
    }

    public bool IsStalled => StallDeadline != 0 && _clock() >= StallDeadline;

    void ArmStall()
    {
        if (StallMs > 0) StallDeadline = _clock() + StallMs;
    }
}
