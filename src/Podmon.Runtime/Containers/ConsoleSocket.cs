using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Containers;

/// <summary>
/// The --console-socket of a terminal container or exec: a listening AF_UNIX stream socket on
/// which the runtime connects once and sends the pty master (SCM_RIGHTS). The path is removed
/// as soon as the fd arrived (or on dispose).
/// </summary>
public sealed class ConsoleSocket : IEventHandler, IDisposable
{
    readonly EventLoop _loop;
    Acceptor? _acceptor;
    OwnedFd? _conn;
    Registration _connReg;
    ShortPath? _connectPath;

    public string Path { get; }

    /// <summary>
    /// What the runtime dials. A path over the 108-byte sun_path limit (a long runtime dir) is
    /// reached through /proc/PODMON_PID/fd/N/name, N an fd of its directory held open until the
    /// runtime connected.
    /// </summary>
    public string ConnectPath { get; }
    public OwnedFd? Master { get; private set; }

    public ConsoleSocket(EventLoop loop, string path)
    {
        _loop = loop;
        Path = path;
        Libc.unlink(path);
        _acceptor = new Acceptor(loop, UnixSocket.Listen(path, Libc.SOCK_STREAM, 0b111_000_000), path, Connected);
        _connectPath = new ShortPath(path, Libc.getpid().ToString(System.Globalization.CultureInfo.InvariantCulture));
        ConnectPath = _connectPath.Value;
    }

    public static string TempPath(string dir, string prefix) =>
        System.IO.Path.Combine(dir, $"{prefix}-{Random.Shared.Next():x8}.sock");

    public void OnEvents(uint events) => TryReceive();

    /// <summary>The runtime connected (only its first connection counts; another is closed).</summary>
    void Connected(OwnedFd fd)
    {
        if (_conn is not null)
        {
            fd.Dispose();
            return;
        }
        _conn = fd;
        _connReg = _loop.Add(fd.Value, Libc.EPOLLIN, this);
        TryReceive();
    }

    /// <summary>Accepts and receives without blocking; true once the master arrived.</summary>
    public bool TryReceive()
    {
        if (Master is not null) return true;
        if (_conn is null)
        {
            _acceptor?.AcceptPending(); // calls Connected, which receives
            return Master is not null;
        }
        Span<byte> data = stackalloc byte[256];
        Span<int> fds = stackalloc int[1];
        int n;
        try { n = UnixSocket.ReceiveWithFds(_conn.Value, data, fds, out int count); if (count == 1) Master = new OwnedFd(fds[0]); }
        catch (SyscallException e) when (e.Errno == Errno.EAGAIN) { return false; }
        catch (SyscallException) { n = 0; }
        if (Master is null && n > 0) return false;
        CloseSockets(); // got it, or the runtime hung up without sending one
        return Master is not null;
    }

    void CloseSockets()
    {
        if (_conn is not null)
        {
            _loop.Remove(_connReg);
            _conn.Dispose();
            _conn = null;
        }
        if (_acceptor is not null)
        {
            _acceptor.Dispose();
            _acceptor = null;
            Libc.unlink(Path);
        }
        _connectPath?.Dispose();
        _connectPath = null;
    }

    /// <summary>Closes the sockets; the master (if any) now belongs to whoever took it from <see cref="TakeMaster"/>.</summary>
    public void Dispose()
    {
        CloseSockets();
        Master?.Dispose();
    }

    public OwnedFd? TakeMaster()
    {
        OwnedFd? m = Master;
        Master = null;
        return m;
    }
}
