using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Containers;

/// <summary>Receives what an <see cref="OutputReader"/> reads. The span is the thread's read buffer: use it, never keep it.</summary>
public interface IOutputSink
{
    void OnOutput(Pipe pipe, ReadOnlySpan<byte> data);
}

/// <summary>
/// A non-blocking pipe or pty master on the loop, read into <see cref="Scratch.ReadBuffer"/> and
/// handed to its sink chunk by chunk. EOF (or EIO: a pty whose other side is gone) closes it.
/// A stream is read in batches: when output is ready again within <see cref="BatchMs"/> of the
/// last wakeup, the pipe is grown to <see cref="StreamPipeSize"/> and left to fill for
/// <see cref="BatchMs"/> before it is read. That turns a writer's many small writes into few
/// full reads and few log records and writes, for at most a millisecond of added delay while a
/// stream lasts; a lone write (a prompt, an echoed key) is still read at once.
/// <para>On a loop with an io_uring the reads go through the ring instead (OutputReader.Ring.cs):
/// one read is always waiting on the fd and gets a buffer only when data comes; the batching is
/// the same (a full buffer is read again at once, a trickle rests <see cref="BatchMs"/>).</para>
/// </summary>
public sealed partial class OutputReader : IEventHandler, ITimerHandler, IDisposable
{
    // Reads per readiness event: enough to empty a full pipe, small enough that one chatty
    // container cannot starve the others (the fd stays ready, level-triggered).
    const int ReadsPerEvent = 4;
    const int BatchMs = 1;
    const int StreamPipeSize = 1 << 20;

    readonly EventLoop _loop;
    readonly OwnedFd _fd;
    Registration _reg;
    long _lastWakeMs = -BatchMs - 1; // the first output is never "again within BatchMs"
    LoopTimer? _rest;
    bool _batching, _cannotBatch, _rested, _paused;

    public Pipe Pipe { get; }
    public IOutputSink Sink { get; set; }
    public bool IsOpen => !_fd.IsClosed;
    public int Fd => _fd.Value;

    public OutputReader(EventLoop loop, OwnedFd fd, Pipe pipe, IOutputSink sink)
    {
        _loop = loop;
        _fd = fd;
        Pipe = pipe;
        Sink = sink;
        Libc.SetNonBlocking(fd.Value);
        if (loop.Ring is { } ring) StartRing(ring);
        else _reg = loop.Add(fd.Value, Libc.EPOLLIN, this);
    }

    public void OnEvents(uint events)
    {
        // More than one event's worth was queued: come back at once (level-triggered), no rest.
        if (!Pump(ReadsPerEvent) || !IsOpen || _cannotBatch) return;
        if (Woke(moreWaiting: false) && !_paused && StartBatching())
        {
            _loop.Modify(_reg, 0); // rest: EPOLLHUP/ERR still wake us, EPOLLIN does not
            Rest();
        }
    }

    /// <summary>Output came: true if it is a stream (ready again within <see cref="BatchMs"/>, or at the end of a rest, or <paramref name="moreWaiting"/>).</summary>
    bool Woke(bool moreWaiting)
    {
        long now = Libc.MonotonicMs();
        bool streaming = moreWaiting || _rested || now - _lastWakeMs <= BatchMs;
        _rested = false;
        _lastWakeMs = now;
        return streaming;
    }

    void Rest() => _loop.Timers.Schedule(_rest ??= new LoopTimer(this), _lastWakeMs + BatchMs);

    /// <summary>A stream needs room to queue up while we rest; ptys and a refused size do not batch.</summary>
    bool StartBatching()
    {
        if (_batching) return true;
        if (Libc.fcntl(_fd.Value, Libc.F_SETPIPE_SZ, StreamPipeSize) < StreamPipeSize)
        {
            _cannotBatch = true;
            return false;
        }
        return _batching = true;
    }

    public void OnTimer(LoopTimer timer)
    {
        if (!IsOpen) return;
        _rested = true;
        if (_ring is not null) SubmitRead();
        else if (!_paused) _loop.Modify(_reg, Libc.EPOLLIN);
    }

    /// <summary>
    /// Backpressure (an attach client is behind): stop reading until resumed; the pipe fills and
    /// then the container's writes wait, as with conmon. A hangup is still seen.
    /// </summary>
    public void SetPaused(bool paused)
    {
        if (_paused == paused || !IsOpen) return;
        _paused = paused;
        if (!paused) DeliverHeld();
        if (_paused != paused || !IsOpen) return; // the sink paused again, or closed us
        if (_ring is not null) PauseRing(paused);
        else if (paused) _loop.Modify(_reg, 0);
        else if (_rest is not { IsScheduled: true }) _loop.Modify(_reg, Libc.EPOLLIN);
    }

    /// <summary>Reads everything available now (until EAGAIN or EOF).</summary>
    public void Drain()
    {
        DeliverHeld();
        Pump(int.MaxValue, untilEmpty: true);
    }

    /// <summary>
    /// Reads until EAGAIN, EOF or <paramref name="maxReads"/> full buffers; unless
    /// <paramref name="untilEmpty"/>, a short read ends it too (the fd was emptied: a writer still
    /// trickling in is read at the next event). True if it emptied the fd.
    /// </summary>
    bool Pump(int maxReads, bool untilEmpty = false)
    {
        byte[] buf = Scratch.ReadBuffer;
        // a sink that paused us (an attach client fell behind) gets no more, except from a drain
        for (int i = 0; i < maxReads && IsOpen && (untilEmpty || !_paused); i++)
        {
            nint n = Libc.Read(_fd.Value, buf);
            if (n > 0)
            {
                Sink.OnOutput(Pipe, buf.AsSpan(0, (int)n));
                if (n < buf.Length && !untilEmpty) return true;
                continue;
            }
            if (n < 0 && Errno.Last == Errno.EAGAIN) return true;
            Dispose(); // 0: EOF; EIO: pty hung up; anything else cannot be retried either
        }
        return !IsOpen;
    }

    public void Dispose()
    {
        if (_fd.IsClosed) return;
        if (_rest is { IsScheduled: true }) _loop.Timers.Cancel(_rest);
        if (_ring is not null) StopRing();
        else _loop.Remove(_reg);
        _fd.Dispose();
    }
}
