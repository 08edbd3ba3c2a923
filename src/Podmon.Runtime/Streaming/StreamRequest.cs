using Podmon.Containers;

namespace Podmon.Streaming;

public enum StreamKind { Exec, Attach, PortForward }

/// <summary>
/// What a serve* call asked for, kept under its token until a client connects with it (single
/// use) or it expires. One type for the three kinds: a field a kind does not use stays empty.
/// </summary>
public sealed class StreamRequest
{
    public required StreamKind Kind { get; init; }
    /// <summary>The container (exec, attach).</summary>
    public string ContainerId { get; init; } = "";
    public IReadOnlyList<string> Command { get; init; } = [];
    public bool Tty { get; init; }
    public bool Stdin { get; init; }
    public bool Stdout { get; init; }
    public bool Stderr { get; init; }
    public CgroupManager CgroupManager { get; init; } = CgroupManager.Cgroupfs;
    /// <summary>port-forward: the network namespace the ports are in.</summary>
    public string NetNsPath { get; init; } = "";

    internal string Token = "";
    internal long ExpiresMs;

    internal string PathPrefix => Kind switch
    {
        StreamKind.Exec => "/exec/",
        StreamKind.Attach => "/attach/",
        _ => "/port-forward/",
    };
}
