using Podmon.Capnp;
using Podmon.Capnp.Rpc;
using Podmon.Containers;
using Podmon.Pod;
using Podmon.Schema;
using Podmon.Streaming;
using Podmon.Sys;
using Podmon.Tracing;
using EngineCgroupManager = Podmon.Containers.CgroupManager;

namespace Podmon.Rpc;

/// <summary>
/// The bootstrap capability: conmon.capnp's `Conmon` interface, one instance for every connection
/// of the server. Requests are copied into plain values for the container engine while the
/// frame is still there; long operations answer later through a deferred call.
/// </summary>
public sealed partial class ConmonService(ContainerEngine containers, EngineCgroupManager serverCgroupManager,
    FdSocket? fdSocket = null, PodNamespaces? pod = null, StreamingServer? streaming = null, Tracer? tracer = null) : ICapability
{
    readonly uint _pid = (uint)Libc.getpid();
    readonly CallTracing? _tracing = tracer is null ? null : new CallTracing(tracer);
    /// <summary>The span of the call being dispatched (default while tracing is off): the parent of the work it starts.</summary>
    SpanContext _callSpan;

    public ulong InterfaceId => Conmon.InterfaceId;

    public void Dispatch(ushort methodId, StructReader parameters, RpcCall call)
    {
        if (_tracing is not null) _callSpan = _tracing.Begin((ConmonMethod)methodId, parameters, call);
        // The handlers of the requests v0.7 lays out differently read their own request, in its layout:
        // every reader built here would be one more struct for this method's prolog to zero on every call.
        switch ((ConmonMethod)methodId)
        {
            case ConmonMethod.Version:
                Version(parameters, call);
                break;
            case ConmonMethod.CreateContainer:
                CreateContainer(parameters, call);
                break;
            case ConmonMethod.ExecSyncContainer:
                ExecSync(parameters, call);
                break;
            case ConmonMethod.AttachContainer:
                Attach(parameters, call);
                break;
            case ConmonMethod.ReopenLogContainer:
                ReopenLog(parameters, call);
                break;
            case ConmonMethod.SetWindowSizeContainer:
                SetWindowSize(parameters, call);
                break;
            case ConmonMethod.StartFdSocket:
                StartFdSocket(call);
                break;
            case ConmonMethod.CreateNamespaces:
                CreateNamespaces(parameters, call);
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
            default:
                call.Fail($"method {methodId} of interface Conmon does not exist", ExceptionType.Unimplemented);
                break;
        }
    }

    /// <summary>
    /// The request of a call and whether it is in the v0.7 layout, which its generated reader is then
    /// constructed for (see <see cref="SchemaGeneration"/>).
    /// </summary>
    static StructReader Request(ConmonMethod method, StructReader parameters, out bool old) =>
        SchemaGeneration.Request(method, parameters, out old);

    void Version(StructReader parameters, RpcCall call)
    {
        var request = new VersionRequestReader(Request(ConmonMethod.Version, parameters, out bool old), old);
        // Answered in the caller's layout: v0.7's response has one more pointer (metadata :Data, left null).
        PointerBuilder slot = new VersionResultsBuilder(call.InitResults(VersionResultsBuilder.DataWords, VersionResultsBuilder.PointerCount)).ResponsePointer;
        var r = new VersionResponseBuilder(slot.InitStruct(VersionResponseBuilder.DataWords, (ushort)(VersionResponseBuilder.PointerCount + (request.IsConmonV073 ? 1 : 0))));
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

    void Attach(StructReader parameters, RpcCall call)
    {
        var r = new AttachRequestReader(Request(ConmonMethod.AttachContainer, parameters, out bool old), old);
        string id = r.IdString, socketPath = r.SocketPathString;
        bool stopAfterStdinEof = r.StopAfterStdinEof;
        if (!Try(call, () => containers.Attach(id, socketPath, stopAfterStdinEof))) return;
        new AttachContainerResultsBuilder(call.InitResults(AttachContainerResultsBuilder.DataWords, AttachContainerResultsBuilder.PointerCount)).InitResponse();
        call.Return();
    }

    void ReopenLog(StructReader parameters, RpcCall call)
    {
        var r = new ReopenLogRequestReader(Request(ConmonMethod.ReopenLogContainer, parameters, out bool old), old);
        string id = r.IdString;
        if (!Try(call, () => containers.ReopenLogs(id, _callSpan))) return;
        new ReopenLogContainerResultsBuilder(call.InitResults(ReopenLogContainerResultsBuilder.DataWords, ReopenLogContainerResultsBuilder.PointerCount)).InitResponse();
        call.Return();
    }

    void SetWindowSize(StructReader parameters, RpcCall call)
    {
        var r = new SetWindowSizeRequestReader(Request(ConmonMethod.SetWindowSizeContainer, parameters, out bool old), old);
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
}
