using System.Runtime.InteropServices;
using Podmon.Sys;

namespace Podmon.Loop;

/// <summary>A registered fd; pass it back to modify or remove the registration.</summary>
public readonly record struct Registration(int Fd, ulong Key)
{
    public bool IsValid => Key != 0;
}

/// <summary>
/// One epoll loop on one thread: fd readiness, timers (epoll_wait's timeout) and whatever is
/// built on fds (signalfd, pidfd). Registrations live in slots with a generation, so an event
/// queued for an fd that was removed and reused in the same batch never reaches the new owner.
/// Steady-state iterations allocate nothing.
/// <para>With an <see cref="IoUring"/> (<see cref="Ring"/>) the loop waits on the ring instead:
/// io_uring_enter submits what the iteration queued and sleeps until a completion or the next
/// timer, and the epoll set is one multishot poll on the ring, so readiness still arrives for
/// every registration. A completion and its next submission then cost one syscall, not an
/// epoll_wait plus a read. If the ring fails, the loop goes back to epoll_wait for good and
/// <see cref="RingFailed"/> tells the ring's users to move their fds back to epoll.</para>
/// </summary>
public sealed unsafe class EventLoop : IDisposable
{
    const int BatchSize = 64;

    readonly OwnedFd _epoll;
    readonly Libc.EpollEvent* _events;
    IEventHandler?[] _handlers = new IEventHandler?[16];
    uint[] _generations = new uint[16];
    int[] _free = new int[16];
    int _freeCount;
    int _used;
    bool _stopping;

    public TimerQueue Timers { get; } = new();

    /// <summary>The ring the loop waits on, or null (epoll).</summary>
    public IoUring? Ring { get; private set; }

    /// <summary>Raised once if the ring fails at run time; the loop is on epoll from then on.</summary>
    public event Action? RingFailed;

    readonly EpollPoll? _epollPoll;
    readonly IoUring? _ownedRing; // kept after a failure: buffers may still be in use

    public EventLoop(IoUring? ring = null)
    {
        _epoll = OwnedFd.Check(Libc.epoll_create1(Libc.EPOLL_CLOEXEC), "epoll_create1");
        _events = (Libc.EpollEvent*)NativeMemory.Alloc((nuint)(BatchSize * sizeof(Libc.EpollEvent)));
        if (ring is not null)
        {
            Ring = _ownedRing = ring;
            _epollPoll = new EpollPoll(this);
            _epollPoll.Arm();
        }
    }

    /// <summary>The multishot poll on the epoll fd: its completion means "epoll has events".</summary>
    sealed class EpollPoll(EventLoop loop) : ICompletionHandler
    {
        ulong _key;

        public void Arm()
        {
            IoUring ring = loop.Ring!;
            if (_key == 0) _key = ring.Register(this);
            ref Libc.IoUringSqe sqe = ref ring.NextSqe();
            sqe.Opcode = Libc.IORING_OP_POLL_ADD;
            sqe.Fd = loop._epoll.Value;
            sqe.Len = Libc.IORING_POLL_ADD_MULTI;
            sqe.OpFlags = Libc.EPOLLIN;
            sqe.UserData = _key;
        }

        public void OnCompletion(int res, uint flags)
        {
            loop._pollCompletions++;
            if (res < 0 && res != -Errno.ECANCELED)
            {
                loop._ringFailure ??= $"poll on the epoll fd: {Errno.Describe(-res)}"; // after the batch: see WaitRing
                return;
            }
            loop._epollReady = true;
            if ((flags & Libc.IORING_CQE_F_MORE) == 0 && loop.Ring is not null) Arm();
        }
    }

    bool _epollReady;
    string? _ringFailure;
    int _pollCompletions; // the epoll poll's own, not counted as work done

    internal void FailRing(string why)
    {
        if (Ring is null) return;
        Diagnostics.Log.Warn($"io_uring failed ({why}): the loop continues on epoll");
        Ring = null;
        _epollReady = true;
        RingFailed?.Invoke();
    }

    public int RegisteredCount => _used - _freeCount;

    public Registration Add(int fd, uint events, IEventHandler handler)
    {
        int slot = _freeCount > 0 ? _free[--_freeCount] : NewSlot();
        uint gen = ++_generations[slot];
        if (gen == 0) gen = ++_generations[slot];
        ulong key = (ulong)gen << 32 | (uint)slot;
        var ev = new Libc.EpollEvent { Events = events, Data = key };
        if (Libc.epoll_ctl(_epoll.Value, Libc.EPOLL_CTL_ADD, fd, &ev) < 0)
        {
            int e = Errno.Last;
            _free[_freeCount++] = slot;
            throw new SyscallException("epoll_ctl(ADD)", e, $"fd {fd}");
        }
        _handlers[slot] = handler;
        return new Registration(fd, key);
    }

    public void Modify(Registration reg, uint events)
    {
        var ev = new Libc.EpollEvent { Events = events, Data = reg.Key };
        Errno.Check(Libc.epoll_ctl(_epoll.Value, Libc.EPOLL_CTL_MOD, reg.Fd, &ev), "epoll_ctl(MOD)");
    }

    /// <summary>Unregisters; call before closing the fd. Unknown registrations are ignored.</summary>
    public void Remove(Registration reg)
    {
        int slot = (int)(uint)reg.Key;
        if (!reg.IsValid || slot >= _used || _generations[slot] != (uint)(reg.Key >> 32) || _handlers[slot] is null)
            return;
        Libc.epoll_ctl(_epoll.Value, Libc.EPOLL_CTL_DEL, reg.Fd, null);
        _handlers[slot] = null;
        _generations[slot]++;
        _free[_freeCount++] = slot;
    }

    int NewSlot()
    {
        if (_used == _handlers.Length)
        {
            Array.Resize(ref _handlers, _used * 2);
            Array.Resize(ref _generations, _used * 2);
            Array.Resize(ref _free, _used * 2);
        }
        return _used++;
    }

    /// <summary>Runs until <see cref="Stop"/> is called.</summary>
    public void Run()
    {
        _stopping = false;
        while (!_stopping) RunOnce(-1);
    }

    public void Stop() => _stopping = true;

    public bool IsStopping => _stopping;

    bool _releaseCode, _codeReleased;

    /// <summary>The next wait first unmaps the executable's clean code pages (see native/codepages.c).</summary>
    public void ReleaseCodeBeforeNextWait() => _releaseCode = true;

    /// <summary>Called at the first event after the code was released: whatever runs now maps code again.</summary>
    public Action? WokeAfterCodeRelease { get; set; }

    /// <summary>How many epoll waits returned events: lets idle work tell a quiet second from a busy one.</summary>
    public ulong Wakeups { get; private set; }

    /// <summary>Waits at most <paramref name="maxWaitMs"/> (-1: until an event or timer), dispatches, fires timers.</summary>
    public int RunOnce(int maxWaitMs)
    {
        int timeout = Timers.WaitTimeout(Libc.MonotonicMs(), maxWaitMs);
        int n = Ring is null ? WaitEpoll(timeout) : WaitRing(timeout);
        if (n > 0 || _epollCount > 0)
        {
            Wakeups++;
            if (_codeReleased)
            {
                _codeReleased = false;
                WokeAfterCodeRelease?.Invoke();
            }
        }
        DispatchEpoll();
        Timers.FireDue(Libc.MonotonicMs());
        return n + _epollCount;
    }

    int _epollCount;

    /// <summary>epoll_wait into <see cref="_events"/>; returns 0 (the events are counted in <see cref="_epollCount"/>).</summary>
    int WaitEpoll(int timeout)
    {
        int n;
        if (_epollReady)
        {
            // just back from the ring: whatever epoll holds now, without waiting
            _epollReady = false;
            timeout = 0;
        }
        if (_releaseCode && timeout != 0)
        {
            _releaseCode = false;
            _codeReleased = true;
            n = Native.EpollWaitReleasingCode(_epoll.Value, _events, BatchSize, timeout);
        }
        else n = Libc.epoll_wait(_epoll.Value, _events, BatchSize, timeout);
        if (n < 0)
        {
            int e = Errno.Last;
            if (e != Errno.EINTR) throw new SyscallException("epoll_wait", e);
            n = 0;
        }
        _epollCount = n;
        return 0;
    }

    /// <summary>
    /// Ring mode: one io_uring_enter submits, waits and runs the ring's work; completions are
    /// dispatched, then epoll's events if the poll fired. A level-triggered fd still ready after
    /// its handler ran does not fire the poll again, so after a batch of epoll events the next
    /// iteration does not sleep: it asks epoll again first.
    /// </summary>
    /// <returns>How many completions were dispatched (epoll's events are in <see cref="_epollCount"/>).</returns>
    int WaitRing(int timeout)
    {
        IoUring ring = Ring!;
        _epollCount = 0;
        bool block = !_epollReady;
        int failed;
        if (block && _releaseCode && timeout != 0)
        {
            _releaseCode = false;
            _codeReleased = true;
            failed = ring.Enter(1, timeout, releasingCode: true);
        }
        else failed = ring.Enter(block ? 1u : 0u, block ? timeout : 0);
        _pollCompletions = 0;
        // Every completion already posted reaches its handler while the ring is still theirs (a read
        // that brought data must be delivered); a failure seen meanwhile is acted on after the batch.
        int n = ring.Dispatch() - _pollCompletions;
        if (failed != 0) _ringFailure ??= $"io_uring_enter: {Errno.Describe(failed)}";
        if (ring.Failure != 0) _ringFailure ??= $"io_uring_enter (submitting): {Errno.Describe(ring.Failure)}";
        if (_ringFailure is { } why)
        {
            _ringFailure = null;
            FailRing(why);
        }
        if (!_epollReady || Ring is null) return n;
        int events = Libc.epoll_wait(_epoll.Value, _events, BatchSize, 0);
        if (events < 0 && Errno.Last != Errno.EINTR) throw new SyscallException("epoll_wait", Errno.Last);
        _epollCount = Math.Max(0, events);
        _epollReady = _epollCount > 0;
        return n;
    }

    void DispatchEpoll()
    {
        int n = _epollCount;
        for (int i = 0; i < n; i++)
        {
            ulong key = _events[i].Data;
            int slot = (int)(uint)key;
            if (slot >= _used || _generations[slot] != (uint)(key >> 32)) continue;
            _handlers[slot]?.OnEvents(_events[i].Events);
        }
    }

    public void Dispose()
    {
        _ownedRing?.Dispose();
        Ring = null;
        _epoll.Dispose();
        NativeMemory.Free(_events);
    }
}
