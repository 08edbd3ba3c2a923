using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Containers;

/// <summary>
/// The container's stdin (pipe write end or a dup of the pty master), non-blocking. What the
/// container does not take at once waits in an <see cref="OutboundBuffer"/> until the fd is
/// writable; producers (attach clients) pause while anything is <see cref="Pending"/>, so it stays
/// one read at most.
/// </summary>
public sealed class StdinWriter : IEventHandler, IDisposable
{
    readonly EventLoop _loop;
    readonly OwnedFd _fd;
    readonly bool _closable;
    // Backlogged from the first queued byte to the last written one.
    readonly OutboundBuffer _out = new(OutboundMode.Pipe, new QueuePolicy(highWater: 1, lowWater: 1), keepBytes: 64 * 1024);
    Registration _reg;
    bool _closeWhenDrained;

    /// <summary>Called when pending bytes were all written (producers may resume).</summary>
    public Action? Drained { get; set; }

    /// <param name="closable">false for a pty: closing it would hang up the terminal.</param>
    public StdinWriter(EventLoop loop, OwnedFd fd, bool closable)
    {
        _loop = loop;
        _fd = fd;
        _closable = closable;
        Libc.SetNonBlocking(fd.Value);
    }

    public bool IsOpen => !_fd.IsClosed;
    public bool Pending => _out.Pending > 0;

    public void Write(ReadOnlySpan<byte> data)
    {
        if (!IsOpen || data.IsEmpty) return;
        QueueChange change = _out.Write(_fd.Value, data);
        if (change == QueueChange.Failed) Dispose(); // EPIPE: the container closed its stdin
        else if (Pending && !_reg.IsValid) _reg = _loop.Add(_fd.Value, Libc.EPOLLOUT, this);
    }

    public void OnEvents(uint events)
    {
        if (_out.Flush(_fd.Value) == QueueChange.Failed)
        {
            Dispose();
            return;
        }
        if (Pending) return;
        _loop.Remove(_reg);
        _reg = default;
        if (_closeWhenDrained) Dispose();
        Drained?.Invoke();
    }

    /// <summary>Closes the container's stdin once everything pending is written (stdin EOF).</summary>
    public void CloseWhenDrained()
    {
        if (!_closable) return;
        if (Pending) _closeWhenDrained = true;
        else Dispose();
    }

    public void Dispose()
    {
        if (_fd.IsClosed) return;
        if (_reg.IsValid) _loop.Remove(_reg);
        _reg = default;
        _out.Dispose();
        _fd.Dispose();
    }
}
