using Podmon.Loop;

namespace Podmon.Server;

/// <summary>
/// Gives memory back after a burst: a second after activity, if enough was allocated since the
/// last time, one blocking compacting full GC. Without it a burst (many calls, a big message)
/// leaves the GC heap's RSS behind until the next burst.
/// </summary>
public sealed class IdleCollector(EventLoop loop) : ITimerHandler
{
    const int DelayMs = 1000;
    const long Threshold = 256 * 1024;

    long _allocatedAtLastCollect = GC.GetTotalAllocatedBytes();
    LoopTimer? _timer;

    LoopTimer Timer => _timer ??= new LoopTimer(this);

    /// <summary>Something just finished (a connection, a container): collect once things are quiet.</summary>
    public void NoteActivity()
    {
        if (!Timer.IsScheduled) loop.Timers.Schedule(Timer, Sys.Libc.MonotonicMs() + DelayMs);
    }

    public void OnTimer(LoopTimer timer)
    {
        long allocated = GC.GetTotalAllocatedBytes();
        if (allocated - _allocatedAtLastCollect < Threshold) return;
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        _allocatedAtLastCollect = GC.GetTotalAllocatedBytes();
    }
}
