namespace Podmon.Sys;

/// <summary>
/// A file descriptor with exactly one owner. Closing is idempotent and ownership moves
/// explicitly (<see cref="Release"/>), so a double close or a use after close is an
/// <see cref="ObjectDisposedException"/>, never a close of somebody else's fd.
/// </summary>
public sealed class OwnedFd : IDisposable
{
    int _fd;

    public OwnedFd(int fd)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(fd);
        _fd = fd;
    }

    /// <summary>Takes ownership of the result of a call that returns an fd, or throws its errno.</summary>
    public static OwnedFd Check(int fd, string call) => new(Errno.Check(fd, call));

    public static OwnedFd Check(int fd, string call, string detail) => new(Errno.Check(fd, call, detail));

    public int Value
    {
        get
        {
            int fd = _fd;
            ObjectDisposedException.ThrowIf(fd < 0, this);
            return fd;
        }
    }

    public bool IsClosed => _fd < 0;

    /// <summary>Gives the raw fd to a new owner; this object no longer closes it.</summary>
    public int Release()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        ObjectDisposedException.ThrowIf(fd < 0, this);
        GC.SuppressFinalize(this);
        return fd;
    }

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0) Libc.close(fd);
        GC.SuppressFinalize(this);
    }

    ~OwnedFd()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0) Libc.close(fd);
    }

    public override string ToString() => _fd < 0 ? "fd(closed)" : $"fd({_fd})";
}
