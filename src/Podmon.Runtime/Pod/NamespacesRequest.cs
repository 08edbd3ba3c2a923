using Podmon.Tracing;

namespace Podmon.Pod;

/// <summary>
/// What createNamespaces asks for, as plain values, and the checks made before any process
/// starts, so a bad request is refused with a message naming the field and changes nothing.
/// The paths follow conmon-rs: BASE/&lt;kind&gt;ns/&lt;podId&gt; and BASE/conmonrs/&lt;podId&gt;.pid.
/// </summary>
public sealed class NamespacesRequest
{
    public required string BasePath { get; init; }
    public required string PodId { get; init; }
    public IReadOnlyCollection<NamespaceKind> Kinds { get; init; } = [];
    public IReadOnlyList<string> UidMappings { get; init; } = [];
    public IReadOnlyList<string> GidMappings { get; init; } = [];
    /// <summary>The span the pause's run is traced under (the RPC call's); default: not traced.</summary>
    public SpanContext Trace { get; init; }

    /// <summary>Null when the request can be served, else why not.</summary>
    public string? Validate()
    {
        if (PodId.Length == 0) return "no pod ID provided";
        if (PodId is "." or ".." || PodId.Contains('/') || PodId.Contains('\0')) return $"pod ID '{PodId}' is not a file name";
        if (BasePath.Length == 0) return "no base path provided";
        if (!BasePath.StartsWith('/') || BasePath.Contains('\0')) return $"base path '{BasePath}' is not an absolute path";
        if (Kinds.Contains(NamespaceKind.User))
        {
            if (UidMappings.Count == 0) return "the user namespace needs uidMappings (none given)";
            if (GidMappings.Count == 0) return "the user namespace needs gidMappings (none given)";
        }
        return BadMapping("uidMappings", UidMappings) ?? BadMapping("gidMappings", GidMappings);
    }

    static string? BadMapping(string field, IReadOnlyList<string> lines)
    {
        for (int i = 0; i < lines.Count; i++)
            if (!IsMapping(lines[i]))
                return $"{field}[{i}] '{lines[i]}' is not a mapping 'CONTAINER HOST SIZE' (three unsigned 32-bit numbers)";
        return null;
    }

    /// <summary>Three unsigned 32-bit decimal numbers separated by blanks, as the kernel's id maps take them.</summary>
    public static bool IsMapping(string line)
    {
        string[] parts = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        return parts.Length == 3 && parts.All(p => p.All(char.IsAsciiDigit) && uint.TryParse(p, out _));
    }

    public string PathOf(NamespaceKind kind) => $"{BasePath.TrimEnd('/')}/{NamespaceKinds.Name(kind)}ns/{PodId}";

    public string PidfilePath => $"{BasePath.TrimEnd('/')}/conmonrs/{PodId}.pid";

    /// <summary>The pause's command line, conmon-rs's: `pause --base-path B --pod-id=ID [--ipc] ... [--user --uid-mappings=M ...]`.</summary>
    public List<string> PauseArgv(string argv0)
    {
        var argv = new List<string> { argv0, "pause", "--base-path", BasePath, $"--pod-id={PodId}" };
        foreach (NamespaceKind kind in NamespaceKinds.All)
        {
            if (!Kinds.Contains(kind)) continue;
            argv.Add("--" + NamespaceKinds.Name(kind));
            if (kind != NamespaceKind.User) continue;
            foreach (string m in UidMappings) argv.Add($"--uid-mappings={m}");
            foreach (string m in GidMappings) argv.Add($"--gid-mappings={m}");
        }
        return argv;
    }
}
