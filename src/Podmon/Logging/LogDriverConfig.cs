namespace Podmon.Logging;

public enum LogDriverType
{
    /// <summary>CRI / k8s-file: "timestamp stream F|P message" lines.</summary>
    ContainerRuntimeInterface,
    Json,
    Journald,
}

/// <summary>One log driver of a container: type, file path (CRI, JSON), size limit (0: none).</summary>
public sealed record LogDriverConfig(LogDriverType Type, string? Path = null, ulong MaxSize = 0);
