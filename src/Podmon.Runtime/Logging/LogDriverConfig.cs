namespace Podmon.Logging;

public enum LogDriverType
{
    /// <summary>CRI / k8s-file: "timestamp stream F|P message" lines.</summary>
    ContainerRuntimeInterface,
    Json,
    Journald,
}

/// <summary>
/// One log driver of a container: type, file path (CRI, JSON), size limit (0: none); Append keeps
/// what the file has (conmon: a restarted container appends), otherwise it is truncated
/// (conmon-rs); journald: extra fields (conmon's --log-tag, --log-label, --name).
/// </summary>
public sealed record LogDriverConfig(LogDriverType Type, string? Path = null, ulong MaxSize = 0, bool Append = false)
{
    /// <summary>journald only: extra "NAME=value" fields sent with every line.</summary>
    public IReadOnlyList<string> JournalFields { get; init; } = [];

    /// <summary>
    /// CRI only: once the records written come to this many bytes in all (truncations and reopens
    /// included), the rest of the output is dropped; 0: no limit. conmon's --log-global-size-max,
    /// which CRI-O gives its exec-sync monitors so a chatty command cannot fill the disk.
    /// </summary>
    public ulong GlobalMaxSize { get; init; }
}
