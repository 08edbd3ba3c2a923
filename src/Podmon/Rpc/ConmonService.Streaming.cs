using Podmon.Capnp.Rpc;
using Podmon.Containers;
using Podmon.Schema;
using Podmon.Streaming;

namespace Podmon.Rpc;

/// <summary>serveExecContainer, serveAttachContainer, servePortForwardContainer: a URL of the streaming server the host handed over (it listens from the first call).</summary>
public sealed partial class ConmonService
{
    void ServeExec(ServeExecContainerRequestReader r, RpcCall call)
    {
        var request = new StreamRequest
        {
            Kind = StreamKind.Exec,
            ContainerId = r.IdString,
            Command = Strings(r.Command),
            Tty = r.Tty,
            Stdin = r.Stdin,
            Stdout = r.Stdout,
            Stderr = r.Stderr,
            CgroupManager = CgroupManagerOf(r.CgroupManager),
        };
        if (!TryServe(call, request, out string url)) return;
        new ServeExecContainerResultsBuilder(call.InitResults(ServeExecContainerResultsBuilder.DataWords, ServeExecContainerResultsBuilder.PointerCount)).InitResponse().SetUrl(url);
        call.Return();
    }

    void ServeAttach(ServeAttachContainerRequestReader r, RpcCall call)
    {
        var request = new StreamRequest
        {
            Kind = StreamKind.Attach,
            ContainerId = r.IdString,
            Stdin = r.Stdin,
            Stdout = r.Stdout,
            Stderr = r.Stderr,
        };
        if (!TryServe(call, request, out string url)) return;
        new ServeAttachContainerResultsBuilder(call.InitResults(ServeAttachContainerResultsBuilder.DataWords, ServeAttachContainerResultsBuilder.PointerCount)).InitResponse().SetUrl(url);
        call.Return();
    }

    void ServePortForward(ServePortForwardContainerRequestReader r, RpcCall call)
    {
        var request = new StreamRequest { Kind = StreamKind.PortForward, NetNsPath = r.NetNsPathString };
        if (!TryServe(call, request, out string url)) return;
        new ServePortForwardContainerResultsBuilder(call.InitResults(ServePortForwardContainerResultsBuilder.DataWords, ServePortForwardContainerResultsBuilder.PointerCount)).InitResponse().SetUrl(url);
        call.Return();
    }

    bool TryServe(RpcCall call, StreamRequest request, out string url)
    {
        try
        {
            url = (streaming ?? throw new ContainerException("the streaming server is not available here")).Serve(request);
            return true;
        }
        catch (ContainerException e)
        {
            url = "";
            call.Fail(e.Message);
            return false;
        }
    }
}
