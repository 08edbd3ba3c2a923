using Podmon.Capnp;
using Podmon.Capnp.Rpc;
using Podmon.Hosting;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Rpc;

/// <summary>
/// Accepts RPC clients on the server socket; every connection bootstraps the same service. Holds the
/// budget that all connections' incomplete big messages share, so that many peers together cannot
/// make the server hold more than <see cref="BufferBudgetBytes"/> for messages they never finish.
/// </summary>
public sealed class RpcServer(EventLoop loop, ICapability bootstrap, IdleCollector? idle = null,
    int maxMessageBytes = RpcServer.DefaultBufferBudgetBytes,
    int bufferBudgetBytes = RpcServer.DefaultBufferBudgetBytes,
    int stallTimeoutMs = RpcServer.DefaultStallTimeoutMs) : IConnectionAcceptor
{
    /// <summary>What incomplete messages over 64 KiB may hold across all connections; also the largest message accepted.</summary>
    public const int DefaultBufferBudgetBytes = 16 * 1024 * 1024;
    /// <summary>How long one message may take to arrive once its first byte has.</summary>
    public const int DefaultStallTimeoutMs = 30_000;

    readonly HashSet<RpcConnection> _connections = [];

    public int ConnectionCount => _connections.Count;
    public int BufferBudgetBytes => bufferBudgetBytes;
    public int StallTimeoutMs => stallTimeoutMs;
    public int ReservedBytes { get; private set; }

    /// <summary>A connection closed (its fd is free again).</summary>
    public Action? ConnectionClosed { get; set; }

    public void Accept(OwnedFd connection) =>
        _connections.Add(new RpcConnection(loop, this, connection, bootstrap, maxMessageBytes));

    internal bool TryReserve(int bytes)
    {
        if (bytes > bufferBudgetBytes - ReservedBytes) return false;
        ReservedBytes += bytes;
        return true;
    }

    internal void Release(int bytes) => ReservedBytes -= bytes;

    internal void Forget(RpcConnection c)
    {
        _connections.Remove(c);
        idle?.NoteActivity();
        ConnectionClosed?.Invoke();
    }

    internal void NoteActivity() => idle?.NoteActivity();

    public void CloseAll()
    {
        foreach (RpcConnection c in _connections.ToArray()) c.Close(null);
    }
}
