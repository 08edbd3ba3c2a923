using Podmon.Sys;

namespace Podmon.Rpc;

/// <summary>Takes each accepted client connection (non-blocking, CLOEXEC) and owns it from then on.</summary>
public interface IConnectionAcceptor
{
    void Accept(OwnedFd connection);

    /// <summary>Called whenever a connection closed (a descriptor is free again).</summary>
    Action? ConnectionClosed { get; set; }

    /// <summary>The server is shutting down: close every connection.</summary>
    void CloseAll();
}
