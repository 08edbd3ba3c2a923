using Podmon.Diagnostics;
using Podmon.Sys;

namespace Podmon.Server;

/// <summary>Builds what serves the socket's clients.</summary>
public static class Services
{
    public static IConnectionAcceptor CreateAcceptor(ServerHost host) => new NoRpcAcceptor();

    /// <summary>Until the Cap'n Proto RPC lands: every client is told nothing and closed.</summary>
    sealed class NoRpcAcceptor : IConnectionAcceptor
    {
        public void Accept(OwnedFd connection)
        {
            Log.Warn("RPC is not available in this build; closing the connection");
            connection.Dispose();
        }

        public void CloseAll() { }
    }
}
