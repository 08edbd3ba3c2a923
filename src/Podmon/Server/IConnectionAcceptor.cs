using Podmon.Sys;

namespace Podmon.Server;

/// <summary>Takes each accepted client connection (non-blocking, CLOEXEC) and owns it from then on.</summary>
public interface IConnectionAcceptor
{
    void Accept(OwnedFd connection);

    /// <summary>The server is shutting down: close every connection.</summary>
    void CloseAll();
}
