using Podmon.Logging;
using Podmon.Sys;
using Podmon.Tracing;

namespace Podmon.Containers;

/// <summary>createContainer's inputs as plain values.</summary>
public sealed class CreateRequest
{
    public required string Id { get; init; }
    /// <summary>Needed to create; an exec (<see cref="ExecProcessSpec"/>) may have none.</summary>
    public required string? BundlePath { get; init; }
    public bool Terminal { get; init; }
    public bool Stdin { get; init; }
    public IReadOnlyList<string> ExitPaths { get; init; } = [];
    public IReadOnlyList<string> OomExitPaths { get; init; } = [];
    public IReadOnlyList<LogDriverConfig> LogDrivers { get; init; } = [];
    /// <summary>argv run (not waited for) after the container exited; argv[0] absolute or found on PATH.</summary>
    public IReadOnlyList<string> CleanupCmd { get; init; } = [];
    public IReadOnlyList<string> GlobalArgs { get; init; } = [];
    public IReadOnlyList<string> CommandArgs { get; init; } = [];
    /// <summary>Added to (or replacing in) the runtime's inherited environment.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> EnvVars { get; init; } = [];
    public CgroupManager CgroupManager { get; init; } = CgroupManager.Cgroupfs;
    /// <summary>The span the runtime's create is traced under (the RPC call's); default: not traced.</summary>
    public SpanContext Trace { get; init; }
    /// <summary>Given to the runtime as fds 3, 4, …; the engine takes ownership.</summary>
    public IReadOnlyList<OwnedFd> AdditionalFds { get; init; } = [];
    /// <summary>Kept open until the container exits; the engine takes ownership.</summary>
    public IReadOnlyList<OwnedFd> LeakFds { get; init; } = [];
    /// <summary>The runtime's --pid-file; null: &lt;bundle&gt;/pidfile.</summary>
    public string? PidFile { get; init; }
    /// <summary>
    /// Set: not a new container but a process in the running container <see cref="Id"/>
    /// (`runtime exec --process SPEC --detach`), monitored like a container: output, attach,
    /// exit files. Its output counts from the start (it runs before the runtime returns).
    /// </summary>
    public string? ExecProcessSpec { get; init; }
    /// <summary>Arguments of the exec subcommand (conmon's --runtime-opt).</summary>
    public IReadOnlyList<string> ExecArgs { get; init; } = [];
    /// <summary>An attach socket served from before the runtime runs (conmon creates it first).</summary>
    public string? AttachSocketPath { get; init; }
    public bool AttachStopAfterStdinEof { get; init; }
    /// <summary>Attach clients get the one-byte done packet at exit (conmon-rs); false: they are just closed (C conmon).</summary>
    public bool AttachDonePacket { get; init; } = true;
    /// <summary>Called on the loop right before the runtime is spawned (conmon exec: wait for the attach go-ahead).</summary>
    public Action? BeforeRuntime { get; init; }
    /// <summary>`runtime restore` from a checkpoint instead of `runtime create` (CommandArgs carry --image-path etc.): the container runs once it returns.</summary>
    public bool Restore { get; init; }
    /// <summary>The runtime (and so the container) gets this process's own stdin/stdout/stderr: no pipes, no logs (conmon's passthrough).</summary>
    public bool PassthroughStdio { get; init; }
    /// <summary>fsync the log files before the exit files are written (conmon's default; off with --no-sync-log).</summary>
    public bool SyncLogOnExit { get; init; } = true;
}

/// <summary>The outcome of a create: the container's pid, or an error (with the runtime's stderr).</summary>
public readonly record struct CreateResult(int ContainerPid, string? Error)
{
    public bool Succeeded => Error is null;
}

/// <summary>execSyncContainer's inputs as plain values.</summary>
public sealed class ExecSyncRequest
{
    public required string Id { get; init; }
    public required IReadOnlyList<string> Command { get; init; }
    /// <summary>0: no timeout.</summary>
    public ulong TimeoutSec { get; init; }
    public bool Terminal { get; init; }
    public IReadOnlyList<KeyValuePair<string, string>> EnvVars { get; init; } = [];
    public CgroupManager CgroupManager { get; init; } = CgroupManager.Cgroupfs;
    /// <summary>The span the runtime's exec is traced under (the RPC call's); default: not traced.</summary>
    public SpanContext Trace { get; init; }
}

/// <summary>
/// The outcome of an exec-sync. <see cref="Error"/> is set when the process never ran (unknown
/// container, the runtime failed: its stderr is in the text); <see cref="ExitCode"/> is then -2
/// (what conmon-rs answers). On a timeout the process is SIGKILLed, <see cref="TimedOut"/> is set
/// and <see cref="ExitCode"/> is what it reported (137), or -1 if the runtime never started it.
/// The output is read in place from pooled buffers: <see cref="Dispose"/> once it is copied.
/// </summary>
public sealed class ExecSyncResult(CaptureBuffer? stdout = null, CaptureBuffer? stderr = null) : IDisposable
{
    public const int RuntimeFailedExitCode = -2;

    public int ExitCode { get; init; }
    /// <summary>Valid until <see cref="Dispose"/>.</summary>
    public ReadOnlySpan<byte> Stdout => stdout is null ? default : stdout.Written;
    /// <summary>Valid until <see cref="Dispose"/>.</summary>
    public ReadOnlySpan<byte> Stderr => stderr is null ? default : stderr.Written;
    public bool TimedOut { get; init; }
    /// <summary>Output beyond <see cref="EngineOptions.ExecOutputLimit"/> was dropped.</summary>
    public bool Truncated { get; init; }
    public string? Error { get; init; }

    public void Dispose()
    {
        stdout?.Dispose();
        stderr?.Dispose();
    }
}

/// <summary>A request about a container that cannot be served (unknown id, no terminal, …).</summary>
public sealed class ContainerException(string message, Exception? inner = null) : Exception(message, inner);
