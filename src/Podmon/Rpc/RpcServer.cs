using Podmon.Capnp;
using Podmon.Capnp.Rpc;
using Podmon.Loop;
using Podmon.Server;
using Podmon.Sys;

namespace Podmon.Rpc;

/// <summary>Accepts RPC clients on the server socket; every connection bootstraps the same service.</summary>
public sealed class RpcServer(EventLoop loop, ICapability bootstrap, IdleCollector? idle = null, int maxMessageBytes = Framing.DefaultMaxMessageBytes) : IConnectionAcceptor
{
    readonly HashSet<RpcConnection> _connections = [];

    public int ConnectionCount => _connections.Count;

    public void Accept(OwnedFd connection) =>
        _connections.Add(new RpcConnection(loop, this, connection, bootstrap, maxMessageBytes));

    internal void Forget(RpcConnection c)
    {
        _connections.Remove(c);
        idle?.NoteActivity();
    }

    internal void NoteActivity() => idle?.NoteActivity();

    public void CloseAll()
    {
        foreach (RpcConnection c in _connections.ToArray()) c.Close(null);
    }
}
