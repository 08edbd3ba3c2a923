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
}
