using static Podmon.Cli.OptionArity;
using static Podmon.Cli.OptionCommand;
using static Podmon.Cli.OptionHandling;
using static Podmon.Cli.OptionParsers;

namespace Podmon.Cli;

/// <summary>
/// Every option of every command line of podmon, in one place: the managed parsers look their
/// options up here (names, value, variable, handling), and OptionTableTests checks the C
/// parsers (native/early.c, native/pause.c), the managed parsers' actions, the usage text
/// (<see cref="Usage"/>) and the man page (packaging/podmon.8) against it. An option added or
/// renamed in one of them and not here fails that test.
/// </summary>
public static class OptionTable
{
    const OptionParsers Both = EarlyC | Managed;

    public static readonly IReadOnlyList<OptionSpec> All =
    [
        // ---- the conmon-rs server (Cli/CommandLine.cs acts unless said otherwise)
        new(ServerMode, 'h', "--help", Flag, null, Both, Acts, "prints the usage (Cli/Usage.cs); early.c: no fork"),
        new(ServerMode, 'v', "--version", OptionalValue, "CONMON_VERSION", Both, Acts,
            "prints the version (Diagnostics/VersionInfo); alone, podman's probe line 'conmon version 2.1.6' first (Program); early.c: no fork"),
        new(ServerMode, '\0', "--version-json", OptionalValue, null, Both, Acts, "prints the version as JSON; early.c: no fork"),
        new(ServerMode, 'l', "--log-level", Value, "CONMON_LOG_LEVEL", Managed, Acts, "podmon's own log level (Diagnostics/Log)"),
        new(ServerMode, 'd', "--log-driver", Value, "CONMON_LOG_DRIVER", Managed, Acts, "where podmon's own log goes (Diagnostics/Log)"),
        new(ServerMode, 'r', "--runtime", Value, "CONMON_RUNTIME", Managed, Acts, "the OCI runtime binary (Server/ServerHost)"),
        new(ServerMode, '\0', "--runtime-dir", Value, "CONMON_RUNTIME_DIR", Managed, Acts, "the socket's and the pidfile's directory (Server/ServerHost)"),
        new(ServerMode, '\0', "--runtime-root", Value, "CONMON_RUNTIME_ROOT", Managed, Acts, "the runtime's --root (Server/ServerHost)"),
        new(ServerMode, '\0', "--skip-fork", Bool, "CONMON_SKIP_FORK", Both, Acts,
            "early.c: checks the value and stays in the foreground (no daemon); the managed parser accepts it"),
        new(ServerMode, 'c', "--cgroup-manager", Value, "CONMON_CGROUP_MANAGER", Managed, Acts, "the runtime's default cgroup manager (Server/ServerHost)"),
        new(ServerMode, 'e', "--enable-tracing", Bool, "CONMON_ENABLE_TRACING", Managed, Acts, "tracing (ServerOptions.EnableTracing)"),
        new(ServerMode, 't', "--tracing-endpoint", Value, "CONMON_TRACING_ENDPOINT", Managed, Acts, "tracing (ServerOptions.TracingEndpoint)"),
        new(ServerMode, '\0', "--pod-watchdog", Flag, null, EarlyC, Acts,
            "early.c, as the only argument: the pod watchdog (watchdog.c) on fd 3; the server starts it") { Hidden = true },

        // ---- `podmon pause` (native/pause.c acts)
        new(Pause, 'h', "--help", Flag, null, Both, Acts, "early.c leaves `pause --help` to the managed parser, which prints the usage"),
        new(Pause, 'p', "--base-path", Value, "CONMON_PAUSE_BASE_PATH", PauseC, Acts, "where the pins go (default /var/run)"),
        new(Pause, '\0', "--pod-id", Value, "CONMON_PAUSE_POD_ID", PauseC, Acts, "the pins' file name (required)"),
        new(Pause, '\0', "--ipc", Bool, null, PauseC, Acts, "pins a new IPC namespace"),
        new(Pause, '\0', "--pid", Bool, null, PauseC, Acts, "pins a new pid namespace (the pause is its pid 1)"),
        new(Pause, '\0', "--net", Bool, null, PauseC, Acts, "pins a new network namespace"),
        new(Pause, '\0', "--user", Bool, null, PauseC, Acts, "pins a new user namespace (needs both mappings)"),
        new(Pause, '\0', "--uts", Bool, null, PauseC, Acts, "pins a new UTS namespace"),
        new(Pause, 'u', "--uid-mappings", Value, null, PauseC, Acts, "a uid_map line of the user namespace (repeatable)"),
        new(Pause, 'g', "--gid-mappings", Value, null, PauseC, Acts, "a gid_map line of the user namespace (repeatable)"),

        // ---- conmon mode: the C conmon's command line (ConmonCli/ConmonCommandLine.cs reads it, ConmonMonitor and ConmonRequest act)
        new(ConmonMode, 'h', "--help", Flag, null, EarlyC, Acts, "early.c: not conmon mode; the server command line prints its usage"),
        new(ConmonMode, '\0', "--version", Flag, null, EarlyC, Acts,
            "early.c: not conmon mode; the server command line prints the version, 'conmon version 2.1.6' first"),
        new(ConmonMode, '\0', "--api-version", OptionalValue, null, Both, Acts, "the sync pipe's dialect (SyncPipe); exec attach needs it") { SelectsConmonMode = true },
        new(ConmonMode, 'c', "--cid", Value, null, Both, Acts, "the container id (required)") { SelectsConmonMode = true },
        new(ConmonMode, 'u', "--cuuid", Value, null, Both, Acts, "the attach socket link's name under --socket-dir-path") { SelectsConmonMode = true },
        new(ConmonMode, 'n', "--name", Value, null, Managed, Acts, "journald's CONTAINER_NAME (ConmonRequest)"),
        new(ConmonMode, 'r', "--runtime", Value, null, Managed, Acts, "the OCI runtime binary (required)"),
        new(ConmonMode, 'b', "--bundle", Value, null, Both, Acts, "the bundle: attach socket and control FIFOs") { SelectsConmonMode = true },
        new(ConmonMode, 'p', "--container-pidfile", Value, null, Both, Acts, "the runtime's --pid-file") { SelectsConmonMode = true },
        new(ConmonMode, '\0', "--pidfile", Value, null, Managed, Acts, "deprecated spelling of --container-pidfile") { Hidden = true },
        new(ConmonMode, 'P', "--conmon-pidfile", Value, null, Both, Acts, "the monitor's own pid (MonitorHost.WritePidfile)") { SelectsConmonMode = true },
        new(ConmonMode, '0', "--persist-dir", Value, null, Managed, Acts, "exit and oom files in DIR too (ConmonRequest)"),
        new(ConmonMode, '\0', "--exit-dir", Value, null, Both, Acts, "the exit file DIR/ID (ConmonRequest)") { SelectsConmonMode = true },
        new(ConmonMode, '\0', "--exit-command", Value, null, Both, Acts, "run after the exit files (ConmonMonitor)") { SelectsConmonMode = true },
        new(ConmonMode, '\0', "--exit-command-arg", Value, null, Both, Acts, "an argument of the exit command (repeatable)") { SelectsConmonMode = true },
        new(ConmonMode, '\0', "--exit-delay", Value, null, Managed, Acts, "seconds before the exit command (ConmonMonitor)"),
        new(ConmonMode, 'l', "--log-path", Value, null, Both, Acts,
            "a log driver (ConmonRequest, repeatable); early.c: passthrough keeps the monitor's stdio"),
        new(ConmonMode, '\0', "--log-size-max", Value, null, Managed, Acts, "k8s-file's size limit (ConmonRequest)"),
        new(ConmonMode, '\0', "--log-global-size-max", Value, null, Managed, Acts,
            "k8s-file: no more records once they come to this many bytes (ConmonRequest, Logging/CriLogWriter); CRI-O's exec-sync"),
        new(ConmonMode, '\0', "--log-tag", Value, null, Managed, Acts, "journald's CONTAINER_TAG and SYSLOG_IDENTIFIER (ConmonRequest)"),
        new(ConmonMode, '\0', "--log-label", Value, null, Managed, Acts, "an extra journald field NAME=value (repeatable)"),
        new(ConmonMode, '\0', "--no-sync-log", Flag, null, Managed, Acts, "no fsync of the log at exit (ConmonRequest)"),
        new(ConmonMode, '\0', "--log-level", Value, null, Managed, Acts, "the monitor's own log level (Diagnostics/Log)"),
        new(ConmonMode, '\0', "--syslog", Flag, null, Managed, Acts, "the monitor's own log goes to the journal (Diagnostics/Log)"),
        new(ConmonMode, '\0', "--runtime-arg", Value, null, Both, Acts, "a global runtime argument (repeatable)") { SelectsConmonMode = true },
        new(ConmonMode, '\0', "--runtime-opt", Value, null, Managed, Acts, "an argument of create, restore or exec (repeatable; --preserve-fds N)"),
        new(ConmonMode, '\0', "--restore-arg", Value, null, Managed, Acts, "deprecated spelling of --runtime-opt") { Hidden = true },
        new(ConmonMode, 't', "--terminal", Flag, null, Managed, Acts, "a terminal for the container (ConmonRequest)"),
        new(ConmonMode, 'i', "--stdin", Flag, null, Managed, Acts, "keeps the container's stdin open for attach (ConmonRequest)"),
        new(ConmonMode, '\0', "--leave-stdin-open", Flag, null, Managed, Acts, "stdin stays open when an attach client leaves (ConmonRequest)"),
        new(ConmonMode, 'e', "--exec", Flag, null, Managed, Acts, "an exec session instead of a container (ConmonMonitor, ConmonRequest)"),
        new(ConmonMode, '\0', "--exec-attach", Flag, null, Managed, Acts, "the exec process starts after the second start byte (ConmonMonitor)"),
        new(ConmonMode, '\0', "--exec-process-spec", Value, null, Both, Acts, "the exec session's process JSON") { SelectsConmonMode = true },
        new(ConmonMode, '\0', "--sync", Flag, null, Both, Acts, "early.c: no fork (the engine waits for this process); ConmonMonitor: stdio to /dev/null"),
        new(ConmonMode, '\0', "--socket-dir-path", Value, null, Both, Acts, "the attach socket link's directory (ConmonRequest)") { SelectsConmonMode = true },
        new(ConmonMode, '\0', "--full-attach", Flag, null, Both, Acts, "the attach socket at its full path (ConmonRequest)") { SelectsConmonMode = true },
        new(ConmonMode, 's', "--systemd-cgroup", Flag, null, Managed, Acts, "the runtime's --systemd-cgroup (ConmonRequest)"),
        new(ConmonMode, '\0', "--no-pivot", Flag, null, Managed, Acts, "the runtime's --no-pivot (ConmonRequest)"),
        new(ConmonMode, '\0', "--no-new-keyring", Flag, null, Managed, Acts, "the runtime's --no-new-keyring (ConmonRequest)"),
        new(ConmonMode, 'T', "--timeout", Value, null, Managed, Acts, "kills the container after SECONDS (ConmonMonitor)"),
        new(ConmonMode, '\0', "--restore", Value, null, Managed, Acts, "runtime restore from a checkpoint instead of create (ConmonRequest)"),
        new(ConmonMode, '\0', "--replace-listen-pid", Flag, null, Managed, Ignored, "conmon sets LISTEN_PID to the runtime's pid even when it is not conmon's"),
        new(ConmonMode, '\0', "--no-container-partial-message", Flag, null, Managed, Ignored, "conmon leaves CONTAINER_PARTIAL_MESSAGE out of journald records"),
        new(ConmonMode, '\0', "--sdnotify-socket", Value, null, Managed, Ignored, "conmon relays the container's sd_notify messages to this socket"),
        new(ConmonMode, '\0', "--seccomp-notify-socket", Value, null, Managed, Ignored, "conmon serves seccomp notifications on this socket"),
        new(ConmonMode, '\0', "--seccomp-notify-plugins", Value, null, Managed, Ignored, "conmon's seccomp notification plugins"),
        new(ConmonMode, '\0', "--cgroup2-path", Value, null, Managed, Ignored, "no option of conmon's cli.c; accepted since podmon's conmon mode began"),
    ];

    /// <summary>The row of <paramref name="command"/> named <paramref name="name"/> ("-x" or "--long"), or null.</summary>
    public static OptionSpec? Find(OptionCommand command, string name)
    {
        foreach (OptionSpec o in All)
            if (o.Command == command && (o.Long == name || name.Length == 2 && name[0] == '-' && o.Short == name[1]))
                return o;
        return null;
    }

    /// <summary>
    /// The names that make native/early.c choose conmon mode: the long names of the rows that
    /// select it, and their short names where the server command line has no such short name.
    /// </summary>
    public static IEnumerable<string> ConmonModeNames()
    {
        foreach (OptionSpec o in All)
        {
            if (!o.SelectsConmonMode) continue;
            yield return o.Long;
            if (o.ShortName is { } s && Find(ServerMode, s) is null) yield return s;
        }
    }
}
