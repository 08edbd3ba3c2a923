using Podmon.Diagnostics;
using System.Globalization;
using Podmon.Cli;

namespace Podmon.ConmonCli;

/// <summary>The C conmon command line: podman's (--api-version 1) and CRI-O's (no API version, --sync for exec).</summary>
public sealed class ConmonOptions
{
    public int ApiVersion { get; set; }
    public string? Cid { get; set; }
    public string? Cuuid { get; set; }
    public string? Name { get; set; }
    public string? Runtime { get; set; }
    public string? Bundle { get; set; }
    public string? ContainerPidfile { get; set; }
    public string? ConmonPidfile { get; set; }
    public string? ExitDir { get; set; }
    public string? ExitCommand { get; set; }
    public List<string> ExitCommandArgs { get; } = [];
    public int ExitDelaySec { get; set; }
    public bool FullAttach { get; set; }
    public string? SocketDirPath { get; set; }
    public List<ConmonLogSpec> Logs { get; } = [];
    public long LogSizeMax { get; set; } = -1;
    public long LogGlobalSizeMax { get; set; } = -1;
    public string? LogTag { get; set; }
    public List<string> LogLabels { get; } = [];
    public bool NoSyncLog { get; set; }
    public LogLevel LogLevel { get; set; } = LogLevel.Warn;
    public bool Syslog { get; set; }
    /// <summary>Global runtime arguments (before the subcommand).</summary>
    public List<string> RuntimeArgs { get; } = [];
    /// <summary>Arguments of the runtime subcommand: create, restore or exec (conmon: --runtime-opt / --restore-arg).</summary>
    public List<string> RuntimeOpts { get; } = [];
    public bool Terminal { get; set; }
    public bool Stdin { get; set; }
    public bool LeaveStdinOpen { get; set; }
    public bool Exec { get; set; }
    public bool ExecAttach { get; set; }
    /// <summary>--sync: the monitor is the process the engine started (no fork), and the engine waits for it to exit.</summary>
    public bool Sync { get; set; }
    public string? ExecProcessSpec { get; set; }
    public bool SystemdCgroup { get; set; }
    public bool NoPivot { get; set; }
    public bool NoNewKeyring { get; set; }
    public int TimeoutSec { get; set; }
    public string? PersistDir { get; set; }
    public string? Restore { get; set; }
    /// <summary>The long names of the options given that conmon mode accepts and ignores (OptionTable), reported once the log is set up.</summary>
    public List<string> Ignored { get; } = [];

    /// <summary>The checks conmon makes after parsing (cli.c process_cli).</summary>
    public void Validate()
    {
        if (Cid is null) throw new UsageException("Container ID not provided. Use --cid");
        if (Cuuid is null && (!Exec || ApiVersion >= 1)) throw new UsageException("Container UUID not provided. Use --cuuid");
        if (Runtime is null) throw new UsageException("Runtime path not provided. Use --runtime");
        if (!File.Exists(Runtime)) throw new UsageException($"Runtime path {Runtime} is not valid");
        if (!Exec && ExecAttach) throw new UsageException("Attach can only be specified with exec");
        if (Exec && ExecProcessSpec is null) throw new UsageException("Exec process spec path not provided. Use --exec-process-spec");
        if (Exec && Restore is not null) throw new UsageException("Cannot use 'exec' and 'restore' at the same time");
        if (ApiVersion < 1 && ExecAttach) throw new UsageException("Attach can only be specified for a non-legacy exec session");
        // conmon: an exec monitor without -b has no bundle, so no attach socket and no control
        // FIFOs (CRI-O's exec-sync monitors: the container's own stay untouched).
        if (!Exec) Bundle ??= Environment.CurrentDirectory;
        ContainerPidfile ??= Path.Combine(Environment.CurrentDirectory, $"pidfile-{Cid}");
    }
}
