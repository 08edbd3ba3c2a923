namespace Podmon.Sys;

/// <summary>
/// One io_uring, mapped once and driven from the loop thread only (SINGLE_ISSUER, DEFER_TASKRUN:
/// the kernel does the ring's work inside our io_uring_enter, never by interrupting us, and never
/// on a thread of ours). No liburing: the SQ and CQ rings and the SQE array are mmap'd here, the
/// three syscalls are in native/uring.c, and the ring indexes are published with
/// <see cref="Volatile"/> (release) and read with acquire, which is what the ring protocol needs.
/// This type sets up and maps the ring and moves entries through its SQ and CQ; the handlers are
/// kept in <see cref="CompletionSlots"/>, so a completion that arrives after its owner went (a
/// cancelled read) reaches nobody — but a buffer it carries still goes back to <see cref="Buffers"/>,
/// the <see cref="ProvidedBuffers"/> ring.
/// </summary>
public sealed unsafe class IoUring : IDisposable
{
    const uint Entries = 64;

    readonly OwnedFd _fd;
    readonly byte* _rings; // SQ and CQ ring in one mapping (IORING_FEAT_SINGLE_MMAP)
    readonly nuint _ringsSize, _sqesSize;
    readonly Libc.IoUringSqe* _sqes;
    readonly uint* _sqHead, _sqTail, _cqHead, _cqTail;
    readonly uint _sqMask, _cqMask;
    readonly Libc.IoUringCqe* _cqes;
    uint _sqLocalTail;
    uint _toSubmit;
    readonly CompletionSlots _handlers = new();

    public int Fd => _fd.Value;

    /// <summary>The provided buffers reads pick from when data arrives (none is held by a waiting read).</summary>
    public ProvidedBuffers Buffers { get; }

    IoUring(OwnedFd fd, in Libc.IoUringParams p)
    {
        _fd = fd;
        _ringsSize = Math.Max(p.SqOff.Array + p.SqEntries * sizeof(uint), p.CqOff.Cqes + p.CqEntries * (uint)sizeof(Libc.IoUringCqe));
        _rings = Map(_ringsSize, Libc.IORING_OFF_SQ_RING, "SQ/CQ rings");
        _sqesSize = p.SqEntries * (uint)sizeof(Libc.IoUringSqe);
        _sqes = (Libc.IoUringSqe*)Map(_sqesSize, Libc.IORING_OFF_SQES, "SQEs");
        _sqHead = (uint*)(_rings + p.SqOff.Head);
        _sqTail = (uint*)(_rings + p.SqOff.Tail);
        _sqMask = *(uint*)(_rings + p.SqOff.RingMask);
        uint* array = (uint*)(_rings + p.SqOff.Array);
        for (uint i = 0; i < p.SqEntries; i++) array[i] = i;
        _sqLocalTail = *_sqTail;
        _cqHead = (uint*)(_rings + p.CqOff.Head);
        _cqTail = (uint*)(_rings + p.CqOff.Tail);
        _cqMask = *(uint*)(_rings + p.CqOff.RingMask);
        _cqes = (Libc.IoUringCqe*)(_rings + p.CqOff.Cqes);
        Buffers = new ProvidedBuffers(this, group: 0);
    }

    byte* Map(nuint size, long offset, string what)
    {
        void* m = Libc.mmap(null, size, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED | Libc.MAP_POPULATE, _fd.Value, offset);
        if (m == Libc.MAP_FAILED) throw new SyscallException("mmap", Errno.Last, $"io_uring {what}");
        return (byte*)m;
    }

    /// <summary>
    /// A ring with what podmon relies on (single issuer, deferred task work, no dropped completions,
    /// waits with a timeout: Linux 6.1), or null with the reason: ENOSYS, EPERM under seccomp or
    /// kernel.io_uring_disabled, EINVAL on an older kernel.
    /// </summary>
    public static IoUring? TryCreate(out string? reason)
    {
        var p = new Libc.IoUringParams
        {
            Flags = Libc.IORING_SETUP_SINGLE_ISSUER | Libc.IORING_SETUP_DEFER_TASKRUN | Libc.IORING_SETUP_SUBMIT_ALL,
        };
        int fd = Native.UringSetup(Entries, &p);
        if (fd < 0)
        {
            reason = $"io_uring_setup: {Errno.Describe(Errno.Last)}";
            return null;
        }
        var owned = new OwnedFd(fd);
        const uint need = Libc.IORING_FEAT_SINGLE_MMAP | Libc.IORING_FEAT_NODROP | Libc.IORING_FEAT_EXT_ARG;
        if ((p.Features & need) != need)
        {
            owned.Dispose();
            reason = $"io_uring lacks features 0x{need & ~p.Features:x}";
            return null;
        }
        try
        {
            reason = null;
            return new IoUring(owned, p);
        }
        catch (SyscallException e)
        {
            owned.Dispose();
            reason = e.Message;
            return null;
        }
    }

    /// <summary>A key for <paramref name="handler"/>'s operations (their user_data), valid until <see cref="Unregister"/>.</summary>
    public ulong Register(ICompletionHandler handler) => _handlers.Add(handler);

    /// <summary>Completions still to come for <paramref name="key"/> reach nobody (their buffers are returned).</summary>
    public void Unregister(ulong key) => _handlers.Remove(key);

    Libc.IoUringSqe _discarded;

    /// <summary>The errno that broke the ring (a submission failed), or 0. The loop then leaves it for epoll.</summary>
    public int Failure { get; private set; }

    /// <summary>
    /// The next free SQE, zeroed; submitted with the next <see cref="Enter"/>. If the SQ is full and
    /// cannot be submitted, the ring is broken (<see cref="Failure"/>) and the SQE goes nowhere: the
    /// operation never happens, which its owner sees when the loop moves it to epoll.
    /// </summary>
    public ref Libc.IoUringSqe NextSqe()
    {
        if (_sqLocalTail - Volatile.Read(ref *_sqHead) >= Entries && !Flush())
        {
            _discarded = default;
            return ref _discarded;
        }
        ref Libc.IoUringSqe sqe = ref _sqes[_sqLocalTail & _sqMask];
        sqe = default;
        _sqLocalTail++;
        Volatile.Write(ref *_sqTail, _sqLocalTail);
        _toSubmit++;
        return ref sqe;
    }

    public bool HasPendingSubmissions => _toSubmit > 0;

    /// <summary>Tests: the ring breaks as if a submission had failed with <paramref name="errno"/>.</summary>
    internal void Break(int errno) => Failure = errno;

    /// <summary>Submits what is queued without waiting (the SQ was full); false if the ring is broken.</summary>
    bool Flush()
    {
        int r = Failure == 0 ? Native.UringEnter(_fd.Value, _toSubmit, 0, 0, null, 0) : -1;
        if (r < 0)
        {
            if (Failure == 0) Failure = Errno.Last;
            return false;
        }
        _toSubmit -= (uint)r;
        return _sqLocalTail - Volatile.Read(ref *_sqHead) < Entries;
    }

    /// <summary>
    /// Submits what is queued and waits up to <paramref name="timeoutMs"/> (-1: no limit) for
    /// <paramref name="minComplete"/> completions (0: none, just run the ring's pending work).
    /// Returns 0, or the errno of a failed wait (ETIME and EINTR are not failures: 0).
    /// </summary>
    public int Enter(uint minComplete, int timeoutMs, bool releasingCode = false)
    {
        Libc.Timespec ts = new() { Sec = Math.Max(0, timeoutMs) / 1000, Nsec = Math.Max(0, timeoutMs) % 1000 * 1_000_000L };
        Libc.IoUringGeteventsArg arg = new() { Ts = timeoutMs >= 0 ? (ulong)&ts : 0 };
        uint flags = Libc.IORING_ENTER_GETEVENTS | Libc.IORING_ENTER_EXT_ARG;
        int r = releasingCode
            ? Native.UringEnterReleasingCode(_fd.Value, _toSubmit, minComplete, flags, &arg, (nuint)sizeof(Libc.IoUringGeteventsArg))
            : Native.UringEnter(_fd.Value, _toSubmit, minComplete, flags, &arg, (nuint)sizeof(Libc.IoUringGeteventsArg));
        if (r >= 0)
        {
            _toSubmit -= (uint)r;
            return 0;
        }
        int e = Errno.Last;
        return e is Errno.ETIME or Errno.EINTR or Errno.EAGAIN or Errno.EBUSY ? 0 : e;
    }

    /// <summary>Hands every completion in the CQ ring to its handler; returns how many there were.</summary>
    public int Dispatch()
    {
        int count = 0;
        uint head = *_cqHead;
        while (head != Volatile.Read(ref *_cqTail))
        {
            Libc.IoUringCqe cqe = _cqes[head & _cqMask];
            Volatile.Write(ref *_cqHead, ++head); // the slot is free before the handler submits more
            count++;
            ICompletionHandler? h = _handlers.Find(cqe.UserData);
            if (h is not null) h.OnCompletion(cqe.Res, cqe.Flags);
            else if ((cqe.Flags & Libc.IORING_CQE_F_BUFFER) != 0) Buffers.Return(BufferId(cqe.Flags));
        }
        return count;
    }

    public static int BufferId(uint cqeFlags) => (int)(cqeFlags >> Libc.IORING_CQE_BUFFER_SHIFT);

    /// <summary>Queues a cancel of the operations submitted with <paramref name="key"/> (its completion is ignored).</summary>
    public void Cancel(ulong key)
    {
        ref Libc.IoUringSqe sqe = ref NextSqe();
        sqe.Opcode = Libc.IORING_OP_ASYNC_CANCEL;
        sqe.Fd = -1;
        sqe.Addr = key;
        sqe.UserData = 0; // slot 0 generation 0 never exists
    }

    public void Dispose()
    {
        if (_fd.IsClosed) return;
        Buffers.Dispose();
        Libc.munmap(_sqes, _sqesSize);
        Libc.munmap(_rings, _ringsSize);
        _fd.Dispose();
    }
}
