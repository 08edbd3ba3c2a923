using Podmon.Capnp;
using Podmon.Capnp.Rpc;
using Podmon.Diagnostics;
using Podmon.Schema;
using Podmon.Tracing;

namespace Podmon.Rpc;

/// <summary>
/// A span per RPC call while tracing is on, as conmon-rs makes one: named after the method
/// (<c>create_container</c>, ...), with the container (or pod) id, parented by the trace context the
/// caller put in the request (<see cref="TraceMetadata"/>), ended by the answer with its outcome
/// (an error status and the reason for an exception, or the connection closing first). The span's
/// context is what the work the call starts is traced under. Tracing never fails a call: a request
/// too malformed to read here is answered by its handler as before, with a span of no parent.
/// </summary>
sealed class CallTracing(Tracer tracer)
{
    public SpanContext Begin(ConmonMethod method, StructReader parameters, RpcCall call)
    {
        SpanContext parent = default;
        string? subject = null;
        try
        {
            StructReader request = SchemaGeneration.Request(method, parameters, out bool old);
            parent = TraceMetadata.Parent(method, request, old);
            subject = SubjectOf(method, request, old);
        }
        catch (CapnpFormatException e)
        {
            Log.Debug($"tracing: {method} request not read for its trace context ({e.Message})");
        }
        Span span = tracer.StartSpan(NameOf(method), parent, SpanKind.Server);
        if (subject is { Length: > 0 }) span.SetAttribute(method == ConmonMethod.CreateNamespaces ? "pod_id" : "container_id", subject);
        span.SetAttribute("rpc.system", "capnp");
        call.Observe(new SpanEnd(span));
        return span.Context;
    }

    /// <summary>conmon-rs's span names: its server's method names.</summary>
    public static string NameOf(ConmonMethod method) => method switch
    {
        ConmonMethod.Version => "version",
        ConmonMethod.CreateContainer => "create_container",
        ConmonMethod.ExecSyncContainer => "exec_sync_container",
        ConmonMethod.AttachContainer => "attach_container",
        ConmonMethod.ReopenLogContainer => "reopen_log_container",
        ConmonMethod.SetWindowSizeContainer => "set_window_size_container",
        ConmonMethod.CreateNamespaces => "create_namespaces",
        ConmonMethod.StartFdSocket => "start_fd_socket",
        ConmonMethod.ServeExecContainer => "serve_exec_container",
        ConmonMethod.ServeAttachContainer => "serve_attach_container",
        ConmonMethod.ServePortForwardContainer => "serve_port_forward_container",
        _ => $"method_{(ushort)method}",
    };

    static string? SubjectOf(ConmonMethod method, StructReader request, bool old) => method switch
    {
        ConmonMethod.CreateContainer => new CreateContainerRequestReader(request, old).IdString,
        ConmonMethod.ExecSyncContainer => new ExecSyncContainerRequestReader(request, old).IdString,
        ConmonMethod.AttachContainer => new AttachRequestReader(request, old).IdString,
        ConmonMethod.ReopenLogContainer => new ReopenLogRequestReader(request, old).IdString,
        ConmonMethod.SetWindowSizeContainer => new SetWindowSizeRequestReader(request, old).IdString,
        ConmonMethod.CreateNamespaces => new CreateNamespacesRequestReader(request, old).PodIdString,
        ConmonMethod.ServeExecContainer => new ServeExecContainerRequestReader(request).IdString,
        ConmonMethod.ServeAttachContainer => new ServeAttachContainerRequestReader(request).IdString,
        _ => null,
    };

    sealed class SpanEnd(Span span) : IAnswerObserver
    {
        public void OnAnswered(string? failure)
        {
            span.SetAttribute("outcome", failure is null ? "ok" : "error");
            if (failure is not null) span.SetError(failure);
            span.End();
        }
    }
}
