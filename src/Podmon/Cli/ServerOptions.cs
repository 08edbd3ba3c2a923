using Podmon.Containers;
using Podmon.Diagnostics;

namespace Podmon.Cli;

/// <summary>
/// The conmon-rs server configuration: same flags, same CONMON_* variables, same defaults.
/// (--skip-fork is not here: native/early.c acts on it before the runtime starts.)
/// </summary>
public sealed class ServerOptions
{
    public string Runtime { get; set; } = "";
    public string RuntimeDir { get; set; } = "";
    public string? RuntimeRoot { get; set; }
    public LogLevel LogLevel { get; set; } = LogLevel.Info;
    public LogDriverKind LogDriver { get; set; } = LogDriverKind.Systemd;
    public CgroupManager CgroupManager { get; set; } = CgroupManager.Systemd;
    public bool EnableTracing { get; set; }
    /// <summary>--tracing-endpoint or CONMON_TRACING_ENDPOINT; null: the next source in TracingSettings.Resolve.</summary>
    public string? TracingEndpoint { get; set; }

    public string SocketPath => Path.Combine(RuntimeDir, "conmon.sock");
    public string FdSocketPath => Path.Combine(RuntimeDir, "conmon-fd.sock");
    public string PidfilePath => Path.Combine(RuntimeDir, "pidfile");
}
