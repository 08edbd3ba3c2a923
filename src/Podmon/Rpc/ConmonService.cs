using Podmon.Capnp;
using Podmon.Capnp.Rpc;
using Podmon.Schema;
using Podmon.Server;
using Podmon.Sys;

namespace Podmon.Rpc;

/// <summary>
/// The bootstrap capability: conmon.capnp's `Conmon` interface. One instance serves every
/// connection of the server.
/// </summary>
public sealed class ConmonService : ICapability
{
    readonly uint _pid = (uint)Libc.getpid();

    public ulong InterfaceId => Conmon.InterfaceId;

    public void Dispatch(ushort methodId, StructReader parameters, RpcCall call)
    {
        switch ((ConmonMethod)methodId)
        {
            case ConmonMethod.Version:
                Version(new VersionParamsReader(parameters).Request, call);
                break;
            case ConmonMethod.CreateContainer or ConmonMethod.ExecSyncContainer or ConmonMethod.AttachContainer
                or ConmonMethod.ReopenLogContainer or ConmonMethod.SetWindowSizeContainer
                or ConmonMethod.CreateNamespaces or ConmonMethod.StartFdSocket or ConmonMethod.ServeExecContainer
                or ConmonMethod.ServeAttachContainer or ConmonMethod.ServePortForwardContainer:
                call.Fail($"{MethodName(methodId)} is not implemented by podmon yet", ExceptionType.Unimplemented);
                break;
            default:
                call.Fail($"method {methodId} of interface Conmon does not exist", ExceptionType.Unimplemented);
                break;
        }
    }

    void Version(VersionRequestReader request, RpcCall call)
    {
        VersionResponseBuilder r = new VersionResultsBuilder(call.InitResults(VersionResultsBuilder.DataWords, VersionResultsBuilder.PointerCount)).InitResponse();
        r.ProcessId = _pid;
        r.SetVersion(VersionInfo.Version);
        r.SetTag(VersionInfo.Tag);
        r.SetCommit(VersionInfo.Commit);
        r.SetBuildDate(VersionInfo.BuildDate);
        r.SetTarget(VersionInfo.Target);
        r.SetRustVersion(VersionInfo.RuntimeVersion);
        r.SetCargoVersion(VersionInfo.SdkVersion);
        if (request.Verbose) r.SetCargoTree(VersionInfo.DependencyTree);
        call.Return();
    }

    static string MethodName(ushort id) => (ConmonMethod)id switch
    {
        ConmonMethod.CreateContainer => "createContainer",
        ConmonMethod.ExecSyncContainer => "execSyncContainer",
        ConmonMethod.AttachContainer => "attachContainer",
        ConmonMethod.ReopenLogContainer => "reopenLogContainer",
        ConmonMethod.SetWindowSizeContainer => "setWindowSizeContainer",
        ConmonMethod.CreateNamespaces => "createNamespaces",
        ConmonMethod.StartFdSocket => "startFdSocket",
        ConmonMethod.ServeExecContainer => "serveExecContainer",
        ConmonMethod.ServeAttachContainer => "serveAttachContainer",
        ConmonMethod.ServePortForwardContainer => "servePortForwardContainer",
        _ => "version",
    };
}
