using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Containers;

/// <summary>
/// The container's stdin (pipe write end or a dup of the pty master), non-blocking. What the
/// container does not take at once waits in <see cref="Pending"/> until the fd is writable;
/// producers (attach clients) pause while anything is pending, so it stays one read at most.
/// </summary>
public sealed class StdinWriter : IEventHandler, IDisposable
{
    readonly EventLoop _loop;
    readonly OwnedFd _fd;
    readonly bool _closable;
    Registration _reg;
    byte[] _pending = [];
    int _pendingLength;
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
    public bool Pending => _pendingLength > 0;

    public unsafe void Write(ReadOnlySpan<byte> data)
    {
        if (!IsOpen || data.IsEmpty) return;
        if (_pendingLength > 0)
        {
            Queue(data);
            return;
        }
        fixed (byte* p = data)
        {
            int done = 0;
            while (done < data.Length)
            {
                nint n = Libc.write(_fd.Value, p + done, (nuint)(data.Length - done));
                if (n > 0) { done += (int)n; continue; }
                int e = Errno.Last;
                if (e == Errno.EINTR) continue;
                if (e == Errno.EAGAIN) break;
                Dispose(); // EPIPE: the container closed its stdin
                return;
            }
            if (done < data.Length) Queue(data[done..]);
        }
    }

    void Queue(ReadOnlySpan<byte> data)
    {
        if (_pendingLength + data.Length > _pending.Length)
            Array.Resize(ref _pending, Math.Max(_pendingLength + data.Length, 8192));
        data.CopyTo(_pending.AsSpan(_pendingLength));
        _pendingLength += data.Length;
        if (!_reg.IsValid) _reg = _loop.Add(_fd.Value, Libc.EPOLLOUT, this);
    }

    public unsafe void OnEvents(uint events)
    {
        fixed (byte* p = _pending)
        {
            nint n = Libc.write(_fd.Value, p, (nuint)_pendingLength);
            if (n < 0)
            {
                int e = Errno.Last;
                if (e is Errno.EAGAIN or Errno.EINTR) return;
                Dispose();
                return;
            }
            _pendingLength -= (int)n;
            _pending.AsSpan((int)n, _pendingLength).CopyTo(_pending);
        }
        if (_pendingLength > 0) return;
        _loop.Remove(_reg);
        _reg = default;
        if (_closeWhenDrained) Dispose();
        Drained?.Invoke();
    }

    /// <summary>Closes the container's stdin once everything pending is written (stdin EOF).</summary>
    public void CloseWhenDrained()
    {
        if (!_closable) return;
        if (_pendingLength > 0) _closeWhenDrained = true;
        else Dispose();
    }

    public void Dispose()
    {
        if (_fd.IsClosed) return;
        if (_reg.IsValid) _loop.Remove(_reg);
        _reg = default;
        _pendingLength = 0;
        _fd.Dispose();
    }
}
