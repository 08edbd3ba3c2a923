using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Rpc;

/// <summary>
/// A Unix socket at a path (mode 0600) whose clients go to an <see cref="IConnectionAcceptor"/>:
/// the RPC socket and the fd socket. Accepting, and waiting quietly when out of descriptors, is
/// the loop's <see cref="Acceptor"/>.
/// </summary>
public sealed class Listener : IDisposable
{
    readonly Acceptor _acceptor;

    /// <param name="socketType">SOCK_STREAM (the RPC socket) or SOCK_SEQPACKET (the fd socket)</param>
    public Listener(EventLoop loop, string path, IConnectionAcceptor acceptor, int socketType = Libc.SOCK_STREAM)
    {
        Path = path;
        _acceptor = new Acceptor(loop, UnixSocket.Listen(path, socketType, 0b110_000_000 /* 0600 */), path, acceptor.Accept);
    }

    public string Path { get; }

    /// <summary>Whether accepting is suspended for lack of descriptors.</summary>
    public bool Paused => _acceptor.Paused;

    /// <summary>A descriptor of this process was closed: try accepting again now.</summary>
    public void DescriptorFreed() => _acceptor.DescriptorFreed();

    public void Dispose() => _acceptor.Dispose();
}
