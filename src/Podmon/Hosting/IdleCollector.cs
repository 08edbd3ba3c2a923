using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Hosting;

/// <summary>
/// Gives memory back once the process has been quiet for a second after some activity (a burst of
/// calls, a container started or gone): one blocking compacting full GC if enough was allocated
/// since the last one, then the pages of the io_uring's provided buffers (a stream touched them; no
/// read holds one between loop iterations) go, and the loop unmaps the executable's clean code pages
/// before it blocks again (native/codepages.c).
/// Without it a burst leaves the GC heap's pages behind, and start-up leaves almost the whole binary
/// mapped although an idle monitor runs a few pages of it.
/// </summary>
public sealed class IdleCollector : ITimerHandler
{
    readonly EventLoop _loop;

    public IdleCollector(EventLoop loop)
    {
        _loop = loop;
        loop.WokeAfterCodeRelease = NoteActivity; // e.g. a container's output: let that code go again later
    }

    const int QuietMs = 1000, AfterCollectMs = 100;
    const long Threshold = 256 * 1024;

    long _allocatedAtLastCollect = GC.GetTotalAllocatedBytes();
    ulong _wakeupsWhenArmed;
    LoopTimer? _timer;

    LoopTimer Timer => _timer ??= new LoopTimer(this);

    /// <summary>Something just happened: give memory back once things are quiet.</summary>
    public void NoteActivity()
    {
        if (!Timer.IsScheduled) Arm();
    }

    void Arm(int delayMs = QuietMs)
    {
        _wakeupsWhenArmed = _loop.Wakeups;
        _loop.Timers.Schedule(Timer, Libc.MonotonicMs() + delayMs);
    }

    public void OnTimer(LoopTimer timer)
    {
        if (_loop.Wakeups != _wakeupsWhenArmed)
        {
            Arm(); // still busy: whatever runs now would only be faulted back in
            return;
        }
        long allocated = GC.GetTotalAllocatedBytes();
        if (allocated - _allocatedAtLastCollect >= Threshold)
        {
            GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            _allocatedAtLastCollect = GC.GetTotalAllocatedBytes();
            Arm(AfterCollectMs); // the finalizer thread wakes after a GC; release the code once it is done too
            return;
        }
        _loop.Ring?.Buffers.Release();
        _loop.ReleaseCodeBeforeNextWait();
    }
}
