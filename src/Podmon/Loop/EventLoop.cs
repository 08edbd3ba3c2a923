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

    public EventLoop()
    {
        _epoll = OwnedFd.Check(Libc.epoll_create1(Libc.EPOLL_CLOEXEC), "epoll_create1");
        _events = (Libc.EpollEvent*)NativeMemory.Alloc((nuint)(BatchSize * sizeof(Libc.EpollEvent)));
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
        int n;
        if (_releaseCode)
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
        if (n > 0)
        {
            Wakeups++;
            if (_codeReleased)
            {
                _codeReleased = false;
                WokeAfterCodeRelease?.Invoke();
            }
        }
        for (int i = 0; i < n; i++)
        {
            ulong key = _events[i].Data;
            int slot = (int)(uint)key;
            if (slot >= _used || _generations[slot] != (uint)(key >> 32)) continue;
            _handlers[slot]?.OnEvents(_events[i].Events);
        }
        Timers.FireDue(Libc.MonotonicMs());
        return n;
    }

    public void Dispose()
    {
        _epoll.Dispose();
        NativeMemory.Free(_events);
    }
}
