using Podmon.Rpc;

namespace Podmon.Server;

/// <summary>Builds what serves the socket's clients.</summary>
public static class Services
{
    public static IConnectionAcceptor CreateAcceptor(ServerHost host) => new RpcServer(host.Loop, new ConmonService(host.Containers, host.Options.CgroupManager), host.IdleCollector);
}
