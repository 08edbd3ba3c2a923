using Podmon.Diagnostics;
using Podmon.Sys;

namespace Podmon.Containers;

/// <summary>
/// The reader on the loop's io_uring: one IORING_OP_READ with a provided buffer waits on the fd
/// while the reader is open, not paused and not resting. The completion hands the buffer to the
/// sink and gives it back at once. A read the kernel cannot do for this fd, or a ring that fails,
/// moves the reader to epoll; nothing is lost because a read that did not complete consumed nothing.
/// Pausing cancels the waiting read; if it had already read, its data is kept (a copy, so the
/// shared buffer goes back) and handed over on resume, so a paused reader delivers nothing.
/// </summary>
public sealed partial class OutputReader : ICompletionHandler
{
    IoUring? _ring;
    ulong _key;
    bool _reading;
    byte[]? _held;
    Action? _submitRead, _ringFailed;

    /// <summary>True while reads go through the ring (false: epoll).</summary>
    public bool OnRing => _ring is not null;

    void StartRing(IoUring ring)
    {
        _ring = ring;
        _key = ring.Register(this);
        _loop.RingFailed += _ringFailed = MoveToEpoll;
        SubmitRead();
    }

    void SubmitRead()
    {
        if (_ring is null || _reading || !IsOpen || _paused || _rest is { IsScheduled: true }) return;
        ref Libc.IoUringSqe sqe = ref _ring.NextSqe();
        sqe.Opcode = Libc.IORING_OP_READ;
        sqe.Flags = Libc.IOSQE_BUFFER_SELECT;
        sqe.Fd = _fd.Value;
        sqe.Off = ulong.MaxValue; // the fd's position (a pipe has none)
        sqe.Len = ProvidedBuffers.Size;
        sqe.BufGroup = _ring.Buffers.Group;
        sqe.UserData = _key;
        _reading = true;
    }

    public void OnCompletion(int res, uint flags)
    {
        _reading = false;
        IoUring ring = _ring!;
        if ((flags & Libc.IORING_CQE_F_BUFFER) != 0)
        {
            int id = IoUring.BufferId(flags);
            try
            {
                if (res > 0 && IsOpen)
                {
                    if (_paused) Hold(ring.Buffers.Get(id, res));
                    else Sink.OnOutput(Pipe, ring.Buffers.Get(id, res));
                }
            }
            finally { ring.Buffers.Return(id); }
        }
        if (!IsOpen || _ring is null) return;
        if (res > 0) AfterRead(full: res == ProvidedBuffers.Size);
        else if (res == 0 || res == -Errno.EIO) Dispose(); // EOF; a pty whose other side is gone
        else if (res == -Errno.ENOBUFS) ring.Buffers.WhenAvailable(_submitRead ??= SubmitRead);
        else if (res is -Errno.EAGAIN or -Errno.EINTR or -Errno.ECANCELED) SubmitRead();
        else
        {
            Log.Warn($"reading {Pipe} through io_uring: {Errno.Describe(-res)}: this pipe is read with epoll from now on");
            MoveToEpoll();
        }
    }

    /// <summary>A full buffer: more is waiting, read again now. A short one: rest if the output is a stream.</summary>
    void AfterRead(bool full)
    {
        if (Woke(moreWaiting: full) && !full && !_paused && !_cannotBatch && StartBatching()) Rest();
        else SubmitRead();
    }

    void Hold(ReadOnlySpan<byte> data)
    {
        int had = _held?.Length ?? 0;
        Array.Resize(ref _held, had + data.Length);
        data.CopyTo(_held.AsSpan(had));
    }

    void PauseRing(bool paused)
    {
        if (paused)
        {
            if (_reading) _ring!.Cancel(_key);
            return;
        }
        SubmitRead();
    }

    /// <summary>What a read that completed while paused brought, handed over now (resume, drain).</summary>
    void DeliverHeld()
    {
        if (_held is not { } held) return;
        _held = null;
        Sink.OnOutput(Pipe, held);
    }

    void MoveToEpoll()
    {
        if (_ring is null) return;
        StopRing();
        if (IsOpen) _reg = _loop.Add(_fd.Value, _paused || _rest is { IsScheduled: true } ? 0 : Libc.EPOLLIN, this);
    }

    void StopRing()
    {
        IoUring ring = _ring!;
        _ring = null;
        _loop.RingFailed -= _ringFailed;
        if (_reading && _loop.Ring is not null) ring.Cancel(_key);
        _reading = false;
        ring.Unregister(_key);
    }
}
