using Podmon.Logging;
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
/// </summary>
public sealed class OutputReader : IEventHandler, IDisposable
{
    // Reads per readiness event: enough to empty a full pipe, small enough that one chatty
    // container cannot starve the others (the fd stays ready, level-triggered).
    const int ReadsPerEvent = 4;

    readonly EventLoop _loop;
    readonly OwnedFd _fd;
    readonly Registration _reg;

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
        _reg = loop.Add(fd.Value, Libc.EPOLLIN, this);
    }

    public void OnEvents(uint events) => Pump(ReadsPerEvent);

    /// <summary>Reads everything available now (until EAGAIN or EOF).</summary>
    public void Drain() => Pump(int.MaxValue);

    void Pump(int maxReads)
    {
        byte[] buf = Scratch.ReadBuffer;
        for (int i = 0; i < maxReads && IsOpen; i++)
        {
            nint n = Libc.Read(_fd.Value, buf);
            if (n > 0)
            {
                Sink.OnOutput(Pipe, buf.AsSpan(0, (int)n));
                continue;
            }
            if (n < 0 && Errno.Last == Errno.EAGAIN) return;
            Dispose(); // 0: EOF; EIO: pty hung up; anything else cannot be retried either
        }
    }

    public void Dispose()
    {
        if (_fd.IsClosed) return;
        _loop.Remove(_reg);
        _fd.Dispose();
    }
}
