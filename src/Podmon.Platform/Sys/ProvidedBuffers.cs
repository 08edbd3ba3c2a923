namespace Podmon.Sys;

/// <summary>
/// A provided-buffer ring (IORING_REGISTER_PBUF_RING): <see cref="Count"/> buffers of
/// <see cref="Size"/> bytes that the kernel picks from only when a read has data, so a read
/// waiting on an idle pipe holds no memory, and a pod of idle containers costs no buffer at all.
/// The memory is an anonymous mapping touched only by reads that happened. A read that finds no
/// free buffer fails with ENOBUFS without consuming anything; its owner asks to be told
/// (<see cref="WhenAvailable"/>) and tries again when one comes back.
/// </summary>
public sealed unsafe class ProvidedBuffers : IDisposable
{
    public const int Size = 64 * 1024;
    public const int Count = 4;

    readonly byte* _memory;
    readonly Libc.IoUringBuf* _ring;
    readonly nuint _ringSize = 4096;
    ushort _tail;
    readonly Queue<Action> _waiters = new();

    public ushort Group { get; }

    internal ProvidedBuffers(IoUring ring, ushort group)
    {
        Group = group;
        _ring = (Libc.IoUringBuf*)Libc.mmap(null, _ringSize, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS, -1, 0);
        if (_ring == Libc.MAP_FAILED) throw new SyscallException("mmap", Errno.Last, "io_uring buffer ring");
        _memory = (byte*)Libc.mmap(null, (nuint)(Size * Count), Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS, -1, 0);
        if (_memory == Libc.MAP_FAILED)
        {
            Libc.munmap(_ring, _ringSize);
            throw new SyscallException("mmap", Errno.Last, "io_uring buffers");
        }
        var reg = new Libc.IoUringBufReg { RingAddr = (ulong)_ring, RingEntries = Count, Bgid = group };
        if (Native.UringRegister(ring.Fd, Libc.IORING_REGISTER_PBUF_RING, &reg, 1) < 0)
        {
            int e = Errno.Last;
            Libc.munmap(_memory, (nuint)(Size * Count));
            Libc.munmap(_ring, _ringSize);
            throw new SyscallException("io_uring_register(PBUF_RING)", e);
        }
        for (int i = 0; i < Count; i++) Return(i);
    }

    /// <summary>The first <paramref name="length"/> bytes of buffer <paramref name="id"/>.</summary>
    public Span<byte> Get(int id, int length) => new(_memory + (long)id * Size, length);

    /// <summary>Gives buffer <paramref name="id"/> back to the kernel; the oldest waiter runs.</summary>
    public void Return(int id)
    {
        ref Libc.IoUringBuf b = ref _ring[_tail & (Count - 1)];
        b.Addr = (ulong)(_memory + (long)id * Size);
        b.Len = Size;
        b.Bid = (ushort)id;
        _tail++;
        Volatile.Write(ref *(ushort*)((byte*)_ring + 14), _tail);
        if (_waiters.TryDequeue(out Action? retry)) retry();
    }

    /// <summary><paramref name="retry"/> runs once, when a buffer comes back.</summary>
    public void WhenAvailable(Action retry) => _waiters.Enqueue(retry);

    /// <summary>Drops the buffers' pages (after a burst; an idle monitor keeps none). Only between loop iterations: no read holds a buffer then.</summary>
    public void Release() => Libc.madvise(_memory, (nuint)(Size * Count), Libc.MADV_DONTNEED);

    /// <summary>How many bytes of the buffers are resident now (mincore).</summary>
    public long ResidentBytes()
    {
        const int pages = Size * Count / 4096;
        byte* vec = stackalloc byte[pages];
        if (Libc.mincore(_memory, (nuint)(Size * Count), vec) < 0) return -1;
        long n = 0;
        for (int i = 0; i < pages; i++) n += vec[i] & 1;
        return n * 4096;
    }

    public void Dispose()
    {
        Libc.munmap(_memory, (nuint)(Size * Count));
        Libc.munmap(_ring, _ringSize);
    }
}
