using Podmon.Diagnostics;

namespace Podmon.Containers;

/// <summary>Server-wide settings of the container engine (from the command line).</summary>
public sealed class EngineOptions
{
    /// <summary>The OCI runtime binary (runc, crun), an absolute path.</summary>
    public required string RuntimePath { get; init; }

    /// <summary>--root of the runtime, or null for its default.</summary>
    public string? RuntimeRoot { get; init; }

    /// <summary>Where podmon keeps its own files: exec pidfiles, console sockets.</summary>
    public required string RuntimeDir { get; init; }

    /// <summary>Passed to crun as --log-level (conmon-rs maps debug, warn, error).</summary>
    public LogLevel LogLevel { get; init; } = LogLevel.Info;

    public string JournalSocket { get; init; } = Sys.JournalSocket.DefaultPath;

    /// <summary>
    /// The pod watchdog (see native/watchdog.c): the podmon binary itself in product, a small
    /// helper under the test host. Null disables it (containers then survive a SIGKILLed podmon).
    /// </summary>
    public string? WatchdogPath { get; init; } = "/proc/self/exe";

    public IReadOnlyList<string> WatchdogArgs { get; init; } = ["podmon", "--pod-watchdog"];

    /// <summary>exec-sync keeps at most this many bytes of stdout and of stderr (16 MiB, like conmon-rs); the rest is read and dropped.</summary>
    public int ExecOutputLimit { get; init; } = 16 * 1024 * 1024;
}
