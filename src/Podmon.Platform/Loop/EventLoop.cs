using Podmon.Sys;

namespace Podmon.Loop;

/// <summary>
/// One loop on one thread: fd readiness (<see cref="EpollSet"/>), timers (the wait's timeout) and
/// whatever is built on fds (signalfd, pidfd). Steady-state iterations allocate nothing.
/// <para>With an <see cref="IoUring"/> (<see cref="Ring"/>) the loop waits on the ring instead
/// (<see cref="RingWait"/>): a completion and its next submission cost one syscall. If the ring
/// fails, the loop goes back to epoll_wait for good and <see cref="RingFailed"/> tells the ring's
/// users to move their fds back to epoll.</para>
/// <para>Idle, the loop can let the binary's code pages go during its next sleep
/// (<see cref="ReleaseCodeBeforeNextWait"/>, <see cref="CodePageRelease"/>).</para>
/// </summary>
public sealed class EventLoop : IDisposable
{
    readonly EpollSet _epoll = new();
    readonly RingWait? _ringWait;
    readonly CodePageRelease _codePages = new();
    bool _stopping;

    public EventLoop(IoUring? ring = null)
    {
        if (ring is not null) _ringWait = new RingWait(ring, _epoll);
    }

    public TimerQueue Timers { get; } = new();

    /// <summary>The ring the loop waits on, or null (epoll).</summary>
    public IoUring? Ring => _ringWait?.Ring;

    /// <summary>Raised once if the ring fails at run time; the loop is on epoll from then on.</summary>
    public event Action? RingFailed
    {
        add
        {
            if (_ringWait is not null) _ringWait.Failed += value;
        }
        remove
        {
            if (_ringWait is not null) _ringWait.Failed -= value;
        }
    }

    internal void FailRing(string why) => _ringWait?.Fail(why);

    public int RegisteredCount => _epoll.RegisteredCount;

    public Registration Add(int fd, uint events, IEventHandler handler) => _epoll.Add(fd, events, handler);

    public void Modify(Registration reg, uint events) => _epoll.Modify(reg, events);

    /// <summary>Unregisters; call before closing the fd. Unknown registrations are ignored.</summary>
    public void Remove(Registration reg) => _epoll.Remove(reg);

    /// <summary>Runs until <see cref="Stop"/> is called.</summary>
    public void Run()
    {
        _stopping = false;
        while (!_stopping) RunOnce(-1);
    }

    public void Stop() => _stopping = true;

    public bool IsStopping => _stopping;

    /// <summary>The next wait first unmaps the executable's clean code pages (see native/codepages.c).</summary>
    public void ReleaseCodeBeforeNextWait() => _codePages.Request();

    /// <summary>Called at the first event after the code was released: whatever runs now maps code again.</summary>
    public Action? WokeAfterCodeRelease
    {
        get => _codePages.Woke;
        set => _codePages.Woke = value;
    }

    /// <summary>How many waits returned events: lets idle work tell a quiet second from a busy one.</summary>
    public ulong Wakeups { get; private set; }

    /// <summary>Waits at most <paramref name="maxWaitMs"/> (-1: until an event or timer), dispatches, fires timers.</summary>
    public int RunOnce(int maxWaitMs)
    {
        int timeout = Timers.WaitTimeout(Libc.MonotonicMs(), maxWaitMs);
        int n = _ringWait?.Ring is null ? WaitEpoll(timeout) : _ringWait.Wait(timeout, _codePages);
        if (n > 0 || _epoll.Count > 0)
        {
            Wakeups++;
            _codePages.NoteWakeup();
        }
        _epoll.Dispatch();
        Timers.FireDue(Libc.MonotonicMs());
        return n + _epoll.Count;
    }

    /// <summary>epoll_wait; returns 0 (the events are counted in <see cref="EpollSet.Count"/>).</summary>
    int WaitEpoll(int timeout)
    {
        if (_epoll.Ready)
        {
            // just back from the ring: whatever epoll holds now, without waiting
            _epoll.Ready = false;
            timeout = 0;
        }
        _epoll.Wait(timeout, _codePages.TakeForWait(timeout));
        return 0;
    }

    public void Dispose()
    {
        _ringWait?.Dispose();
        _epoll.Dispose();
    }
}
