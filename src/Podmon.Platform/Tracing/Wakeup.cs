using Podmon.Sys;

namespace Podmon.Tracing;

/// <summary>
/// The exporter thread's doorbell: an eventfd it polls together with its socket, rung when the
/// queue gets its first span or a full batch and when the tracer stops. It also carries the stop
/// deadline, which cuts every wait of the exporter short. Ringing after <see cref="Close"/> does
/// nothing (the lock keeps a late ring off a closed, maybe reused, fd number).
/// </summary>
internal sealed unsafe class Wakeup
{
    readonly object _gate = new();
    OwnedFd? _fd = OwnedFd.Check(Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK), "eventfd");
    long _stopDeadlineMs = long.MaxValue;

    /// <summary>The eventfd, for poll on the exporter thread (which alone closes it).</summary>
    public int Fd => _fd!.Value;

    public bool Stopping => Volatile.Read(ref _stopDeadlineMs) != long.MaxValue;

    /// <summary>Monotonic ms by which the exporter must have stopped; long.MaxValue while running.</summary>
    public long StopDeadlineMs => Volatile.Read(ref _stopDeadlineMs);

    public void Ring()
    {
        lock (_gate)
        {
            if (_fd is null) return;
            ulong one = 1;
            Libc.write(_fd.Value, (byte*)&one, 8);
        }
    }

    /// <summary>Asks the exporter to stop by <paramref name="deadlineMs"/> (monotonic) and rings.</summary>
    public void Stop(long deadlineMs)
    {
        Interlocked.CompareExchange(ref _stopDeadlineMs, deadlineMs, long.MaxValue);
        Ring();
    }

    /// <summary>Resets the eventfd after a wake (the exporter then looks at the queue and the stop flag).</summary>
    public void Drain()
    {
        ulong value;
        Libc.read(Fd, (byte*)&value, 8);
    }

    public void Close()
    {
        lock (_gate)
        {
            _fd?.Dispose();
            _fd = null;
        }
    }
}
