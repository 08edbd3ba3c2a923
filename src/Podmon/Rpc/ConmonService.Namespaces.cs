using Podmon.Capnp;
using Podmon.Capnp.Rpc;
using Podmon.Pod;
using Podmon.Schema;

namespace Podmon.Rpc;

/// <summary>createNamespaces: answered when the pause process has pinned the namespaces.</summary>
public sealed partial class ConmonService
{
    void CreateNamespaces(StructReader parameters, RpcCall call)
    {
        var r = new CreateNamespacesRequestReader(Request(ConmonMethod.CreateNamespaces, parameters, out bool old), old);
        if (pod is null)
        {
            call.Fail("createNamespaces is not available in this server");
            return;
        }
        var kinds = new HashSet<NamespaceKind>();
        PrimitiveListReader<Namespace> list = r.Namespaces;
        for (int i = 0; i < list.Count; i++)
        {
            NamespaceKind? kind = list[i] switch
            {
                Namespace.Ipc => NamespaceKind.Ipc,
                Namespace.Net => NamespaceKind.Net,
                Namespace.Pid => NamespaceKind.Pid,
                Namespace.User => NamespaceKind.User,
                Namespace.Uts => NamespaceKind.Uts,
                _ => null,
            };
            if (kind is null)
            {
                call.Fail($"createNamespaces: namespaces[{i}]: unknown namespace {(ushort)list[i]} (podmon knows ipc, net, pid, user, uts)");
                return;
            }
            kinds.Add(kind.Value);
        }
        var request = new NamespacesRequest
        {
            BasePath = r.BasePathString,
            PodId = r.PodIdString,
            Kinds = kinds,
            UidMappings = Strings(r.UidMappings),
            GidMappings = Strings(r.GidMappings),
            Trace = _callSpan,
        };
        RpcCall later = call.Defer();
        pod.Create(request, (pinned, error) =>
        {
            if (!later.IsActive) return;
            if (pinned is null)
            {
                later.Fail($"createNamespaces: {error}");
                return;
            }
            var response = new CreateNamespacesResultsBuilder(later.InitResults(CreateNamespacesResultsBuilder.DataWords, CreateNamespacesResultsBuilder.PointerCount)).InitResponse();
            NamespaceResponseListBuilder entries = response.InitNamespaces(pinned.Paths.Count);
            for (int i = 0; i < pinned.Paths.Count; i++)
            {
                NamespaceResponseBuilder e = entries[i];
                e.Type = pinned.Paths[i].Kind switch
                {
                    NamespaceKind.Ipc => Namespace.Ipc,
                    NamespaceKind.Net => Namespace.Net,
                    NamespaceKind.Pid => Namespace.Pid,
                    NamespaceKind.User => Namespace.User,
                    _ => Namespace.Uts,
                };
                e.SetPath(pinned.Paths[i].Path);
            }
            later.Return();
        });
    }
}
