using Podmon.Capnp;
using Podmon.Capnp.Rpc;
using Podmon.Containers;
using Podmon.Diagnostics;
using Podmon.Schema;
using Podmon.Sys;
using EngineCgroupManager = Podmon.Containers.CgroupManager;

namespace Podmon.Rpc;

/// <summary>
/// The bootstrap capability: conmon.capnp's `Conmon` interface, one instance for every connection
/// of the server. Requests are copied into plain values for the container engine while the
/// frame is still there; long operations answer later through a deferred call.
/// </summary>
public sealed partial class ConmonService(ContainerEngine containers, EngineCgroupManager serverCgroupManager) : ICapability
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
            case ConmonMethod.CreateContainer:
                CreateContainer(new CreateContainerParamsReader(parameters).Request, call);
                break;
            case ConmonMethod.ExecSyncContainer:
                ExecSync(new ExecSyncContainerParamsReader(parameters).Request, call);
                break;
            case ConmonMethod.AttachContainer:
                Attach(new AttachContainerParamsReader(parameters).Request, call);
                break;
            case ConmonMethod.ReopenLogContainer:
                ReopenLog(new ReopenLogContainerParamsReader(parameters).Request, call);
                break;
            case ConmonMethod.SetWindowSizeContainer:
                SetWindowSize(new SetWindowSizeContainerParamsReader(parameters).Request, call);
                break;
            case ConmonMethod.ServeExecContainer:
                ServeExec(new ServeExecContainerParamsReader(parameters).Request, call);
                break;
            case ConmonMethod.ServeAttachContainer:
                ServeAttach(new ServeAttachContainerParamsReader(parameters).Request, call);
                break;
            case ConmonMethod.ServePortForwardContainer:
                ServePortForward(new ServePortForwardContainerParamsReader(parameters).Request, call);
                break;
            case ConmonMethod.CreateNamespaces or ConmonMethod.StartFdSocket:
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

    void Attach(AttachRequestReader r, RpcCall call)
    {
        string id = r.IdString, socketPath = r.SocketPathString;
        bool stopAfterStdinEof = r.StopAfterStdinEof;
        if (!Try(call, () => containers.Attach(id, socketPath, stopAfterStdinEof))) return;
        new AttachContainerResultsBuilder(call.InitResults(AttachContainerResultsBuilder.DataWords, AttachContainerResultsBuilder.PointerCount)).InitResponse();
        call.Return();
    }

    void ReopenLog(ReopenLogRequestReader r, RpcCall call)
    {
        string id = r.IdString;
        if (!Try(call, () => containers.ReopenLogs(id))) return;
        new ReopenLogContainerResultsBuilder(call.InitResults(ReopenLogContainerResultsBuilder.DataWords, ReopenLogContainerResultsBuilder.PointerCount)).InitResponse();
        call.Return();
    }

    void SetWindowSize(SetWindowSizeRequestReader r, RpcCall call)
    {
        string id = r.IdString;
        ushort width = r.Width, height = r.Height;
        if (!Try(call, () => containers.SetWindowSize(id, width, height))) return;
        new SetWindowSizeContainerResultsBuilder(call.InitResults(SetWindowSizeContainerResultsBuilder.DataWords, SetWindowSizeContainerResultsBuilder.PointerCount)).InitResponse();
        call.Return();
    }

    /// <summary>Runs a container method that answers at once; its failure is the call's error.</summary>
    static bool Try(RpcCall call, Action action)
    {
        try
        {
            action();
            return true;
        }
        catch (ContainerException e)
        {
            call.Fail(e.Message);
            return false;
        }
    }

    /// <summary>
    /// The request's cgroup manager; the enum's default (systemd) falls back to the server's
    /// --cgroup-manager, so a client that never sets the field gets what the node was started with.
    /// </summary>
    EngineCgroupManager CgroupManagerOf(Schema.CgroupManager requested) =>
        requested == Schema.CgroupManager.Cgroupfs ? EngineCgroupManager.Cgroupfs : serverCgroupManager;

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
