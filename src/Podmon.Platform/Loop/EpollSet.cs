using System.Runtime.InteropServices;
using Podmon.Sys;

namespace Podmon.Loop;

/// <summary>
/// The loop's epoll instance: the registered fds and their handlers, and the batch of events one
/// wait brought. Registrations live in slots with a generation, so an event queued for an fd that
/// was removed and reused in the same batch never reaches the new owner. Whether the loop sleeps
/// in epoll_wait or on an io_uring (<see cref="RingWait"/>), readiness comes from here.
/// </summary>
sealed unsafe class EpollSet : IDisposable
{
    const int BatchSize = 64;

    readonly OwnedFd _epoll;
    readonly Libc.EpollEvent* _events;
    IEventHandler?[] _handlers = new IEventHandler?[16];
    uint[] _generations = new uint[16];
    int[] _free = new int[16];
    int _freeCount;
    int _used;

    public EpollSet()
    {
        _epoll = OwnedFd.Check(Libc.epoll_create1(Libc.EPOLL_CLOEXEC), "epoll_create1");
        _events = (Libc.EpollEvent*)NativeMemory.Alloc((nuint)(BatchSize * sizeof(Libc.EpollEvent)));
    }

    public int Fd => _epoll.Value;

    public int RegisteredCount => _used - _freeCount;

    /// <summary>Events of the last wait, not yet dispatched.</summary>
    public int Count { get; private set; }

    /// <summary>
    /// Epoll may hold events no wait has reported (the ring's poll on it fired, or the loop just
    /// left the ring): the next wait must not sleep before asking it.
    /// </summary>
    public bool Ready { get; set; }

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

    /// <summary>epoll_wait (releasing the code pages in the same call if asked: see <see cref="CodePageRelease"/>); the events are in <see cref="Count"/>.</summary>
    public void Wait(int timeout, bool releasingCode)
    {
        int n = releasingCode
            ? Native.EpollWaitReleasingCode(_epoll.Value, _events, BatchSize, timeout)
            : Libc.epoll_wait(_epoll.Value, _events, BatchSize, timeout);
        if (n < 0)
        {
            int e = Errno.Last;
            if (e != Errno.EINTR) throw new SyscallException("epoll_wait", e);
            n = 0;
        }
        Count = n;
    }

    /// <summary>What epoll holds now, without waiting; the events are in <see cref="Count"/>.</summary>
    public void Poll()
    {
        int events = Libc.epoll_wait(_epoll.Value, _events, BatchSize, 0);
        if (events < 0 && Errno.Last != Errno.EINTR) throw new SyscallException("epoll_wait", Errno.Last);
        Count = Math.Max(0, events);
    }

    /// <summary>Forgets the last batch (the ring's iteration brought none).</summary>
    public void Clear() => Count = 0;

    /// <summary>Hands each event of the last batch to its fd's handler, unless the registration is gone.</summary>
    public void Dispatch()
    {
        int n = Count;
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
        _epoll.Dispose();
        NativeMemory.Free(_events);
    }
}
