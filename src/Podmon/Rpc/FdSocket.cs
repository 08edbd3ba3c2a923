using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Rpc;

/// <summary>
/// startFdSocket's socket: <c>&lt;runtime-dir&gt;/conmon-fd.sock</c> (SOCK_SEQPACKET, 0600), bound
/// by the first call and served on the one loop until shutdown; later calls get the same path.
/// Clients hand fds over it (<see cref="FdSocketConnection"/>) that createContainer then takes
/// from <see cref="Slots"/> by number. Disposing closes the socket, every connection and every
/// fd not taken, and removes the path.
/// </summary>
public sealed class FdSocket(EventLoop loop, string path) : IConnectionAcceptor, IDisposable
{
    readonly HashSet<FdSocketConnection> _connections = [];
    Listener? _listener;

    public string Path => path;
    public FdSlots Slots { get; } = new();
    public bool Listening => _listener is not null;
    public int ConnectionCount => _connections.Count;
    public Action? ConnectionClosed { get; set; }

    /// <summary>Binds the socket unless it is bound already (a stale file is replaced); returns its path.</summary>
    public string Start()
    {
        if (_listener is not null) return path;
        if (Libc.unlink(path) < 0 && Errno.Last != Errno.ENOENT) throw new SyscallException("unlink", Errno.Last, path);
        _listener = new Listener(loop, path, this, Libc.SOCK_SEQPACKET);
        return path;
    }

    public void Accept(OwnedFd connection) => _connections.Add(new FdSocketConnection(loop, this, connection));

    internal void Forget(FdSocketConnection c)
    {
        _connections.Remove(c);
        _listener?.DescriptorFreed();
        ConnectionClosed?.Invoke();
    }

    public void CloseAll()
    {
        foreach (FdSocketConnection c in _connections.ToArray()) c.Close(null);
    }

    public void Dispose()
    {
        if (_listener is not null)
        {
            _listener.Dispose();
            _listener = null;
            Libc.unlink(path);
        }
        CloseAll();
        Slots.Dispose();
    }
}
