using Podmon.Diagnostics;
using System.Globalization;
using Podmon.Cli;

namespace Podmon.ConmonCli;

/// <summary>One `-l` value: `k8s-file:PATH` (or a bare PATH), `journald:[TAG]`, `passthrough`, `none`.</summary>
public sealed record ConmonLogSpec(string Driver, string? Path);

/// <summary>The C conmon command line: podman's (--api-version 1) and CRI-O's (no API version, --sync for exec).</summary>
public sealed class ConmonOptions
{
    public bool Version { get; set; }
    public bool Help { get; set; }
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
    /// <summary>Accepted and ignored (documented in podmon(8) and docs/conmon-mode.md).</summary>
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

/// <summary>
/// Parses conmon's flags like glib's option parser: `--long value`, `--long=value`, `-s value`,
/// `-svalue`, grouped boolean shorts (`-ti`). Unknown flags are a <see cref="UsageException"/>.
/// </summary>
public static class ConmonCommandLine
{
    enum Kind { Flag, Value }

    static readonly Dictionary<string, (Kind Kind, Action<ConmonOptions, string> Set)> Long = new(StringComparer.Ordinal)
    {
        ["version"] = (Kind.Flag, (o, _) => o.Version = true),
        ["help"] = (Kind.Flag, (o, _) => o.Help = true),
        ["api-version"] = (Kind.Value, (o, v) => o.ApiVersion = Int(v, "--api-version")),
        ["cid"] = (Kind.Value, (o, v) => o.Cid = v),
        ["cuuid"] = (Kind.Value, (o, v) => o.Cuuid = v),
        ["name"] = (Kind.Value, (o, v) => o.Name = v),
        ["runtime"] = (Kind.Value, (o, v) => o.Runtime = v),
        ["bundle"] = (Kind.Value, (o, v) => o.Bundle = v),
        ["container-pidfile"] = (Kind.Value, (o, v) => o.ContainerPidfile = v),
        ["pidfile"] = (Kind.Value, (o, v) => o.ContainerPidfile = v),
        ["conmon-pidfile"] = (Kind.Value, (o, v) => o.ConmonPidfile = v),
        ["exit-dir"] = (Kind.Value, (o, v) => o.ExitDir = v),
        ["exit-command"] = (Kind.Value, (o, v) => o.ExitCommand = v),
        ["exit-command-arg"] = (Kind.Value, (o, v) => o.ExitCommandArgs.Add(v)),
        ["exit-delay"] = (Kind.Value, (o, v) => o.ExitDelaySec = Int(v, "--exit-delay")),
        ["full-attach"] = (Kind.Flag, (o, _) => o.FullAttach = true),
        ["socket-dir-path"] = (Kind.Value, (o, v) => o.SocketDirPath = v),
        ["log-path"] = (Kind.Value, (o, v) => o.Logs.Add(ParseLog(v))),
        ["log-size-max"] = (Kind.Value, (o, v) => o.LogSizeMax = long.Parse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture)),
        ["log-tag"] = (Kind.Value, (o, v) => o.LogTag = v),
        ["log-label"] = (Kind.Value, (o, v) => o.LogLabels.Add(v)),
        ["no-sync-log"] = (Kind.Flag, (o, _) => o.NoSyncLog = true),
        ["log-level"] = (Kind.Value, (o, v) => o.LogLevel = ParseLevel(v)),
        ["syslog"] = (Kind.Flag, (o, _) => o.Syslog = true),
        ["runtime-arg"] = (Kind.Value, (o, v) => o.RuntimeArgs.Add(v)),
        ["runtime-opt"] = (Kind.Value, (o, v) => o.RuntimeOpts.Add(v)),
        ["restore-arg"] = (Kind.Value, (o, v) => o.RuntimeOpts.Add(v)),
        ["terminal"] = (Kind.Flag, (o, _) => o.Terminal = true),
        ["stdin"] = (Kind.Flag, (o, _) => o.Stdin = true),
        ["leave-stdin-open"] = (Kind.Flag, (o, _) => o.LeaveStdinOpen = true),
        ["exec"] = (Kind.Flag, (o, _) => o.Exec = true),
        ["exec-attach"] = (Kind.Flag, (o, _) => o.ExecAttach = true),
        ["sync"] = (Kind.Flag, (o, _) => o.Sync = true),
        ["exec-process-spec"] = (Kind.Value, (o, v) => o.ExecProcessSpec = v),
        ["systemd-cgroup"] = (Kind.Flag, (o, _) => o.SystemdCgroup = true),
        ["no-pivot"] = (Kind.Flag, (o, _) => o.NoPivot = true),
        ["no-new-keyring"] = (Kind.Flag, (o, _) => o.NoNewKeyring = true),
        ["timeout"] = (Kind.Value, (o, v) => o.TimeoutSec = Int(v, "--timeout")),
        ["persist-dir"] = (Kind.Value, (o, v) => o.PersistDir = v),
        ["restore"] = (Kind.Value, (o, v) => o.Restore = v),
        // Accepted, no effect in podmon (see podmon(8) and docs/conmon-mode.md).
        ["replace-listen-pid"] = (Kind.Flag, (o, _) => o.Ignored.Add("--replace-listen-pid")),
        ["no-container-partial-message"] = (Kind.Flag, (o, _) => o.Ignored.Add("--no-container-partial-message")),
        ["sdnotify-socket"] = (Kind.Value, (o, v) => o.Ignored.Add("--sdnotify-socket")),
        ["seccomp-notify-socket"] = (Kind.Value, (o, v) => o.Ignored.Add("--seccomp-notify-socket")),
        ["seccomp-notify-plugins"] = (Kind.Value, (o, v) => o.Ignored.Add("--seccomp-notify-plugins")),
        ["log-global-size-max"] = (Kind.Value, (o, v) => o.Ignored.Add("--log-global-size-max")),
        ["cgroup2-path"] = (Kind.Value, (o, v) => o.Ignored.Add("--cgroup2-path")),
    };

    static readonly Dictionary<char, string> Short = new()
    {
        ['t'] = "terminal", ['i'] = "stdin", ['c'] = "cid", ['u'] = "cuuid", ['n'] = "name", ['r'] = "runtime",
        ['b'] = "bundle", ['0'] = "persist-dir", ['p'] = "container-pidfile", ['P'] = "conmon-pidfile",
        ['s'] = "systemd-cgroup", ['e'] = "exec", ['l'] = "log-path", ['T'] = "timeout",
    };

    public static ConmonOptions Parse(IReadOnlyList<string> args) => Parse(args, new ConmonOptions());

    /// <summary>Parses into <paramref name="o"/>, which keeps what was read before a <see cref="UsageException"/>.</summary>
    public static ConmonOptions Parse(IReadOnlyList<string> args, ConmonOptions o)
    {
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (a == "--") break;
            if (a.StartsWith("--", StringComparison.Ordinal))
            {
                int eq = a.IndexOf('=');
                string name = eq < 0 ? a[2..] : a[2..eq];
                if (!Long.TryGetValue(name, out var opt)) throw new UsageException($"unknown option --{name}");
                if (opt.Kind == Kind.Flag)
                {
                    if (eq >= 0) throw new UsageException($"option --{name} takes no value");
                    opt.Set(o, "");
                }
                else if (eq >= 0) opt.Set(o, a[(eq + 1)..]);
                else if (name == "api-version" && (i + 1 >= args.Count || args[i + 1].StartsWith('-'))) o.ApiVersion = 1;
                else
                {
                    if (i + 1 >= args.Count) throw new UsageException($"missing argument for --{name}");
                    opt.Set(o, args[++i]);
                }
            }
            else if (a.Length > 1 && a[0] == '-')
            {
                for (int j = 1; j < a.Length; j++)
                {
                    if (!Short.TryGetValue(a[j], out string? name)) throw new UsageException($"unknown option -{a[j]}");
                    var opt = Long[name];
                    if (opt.Kind == Kind.Flag) { opt.Set(o, ""); continue; }
                    if (j + 1 < a.Length) opt.Set(o, a[(j + 1)..]);
                    else if (i + 1 < args.Count) opt.Set(o, args[++i]);
                    else throw new UsageException($"missing argument for -{a[j]}");
                    break;
                }
            }
            else throw new UsageException($"unexpected argument '{a}'");
        }
        return o;
    }

    /// <summary>`-l` values: DRIVER:PATH, a bare path (k8s-file), `none`, `passthrough`, `journald[:TAG]`.</summary>
    public static ConmonLogSpec ParseLog(string v)
    {
        int colon = v.IndexOf(':');
        if (colon < 0)
        {
            return v switch
            {
                "none" or "off" or "null" => new ConmonLogSpec("none", null),
                "passthrough" or "journald" => new ConmonLogSpec(v, null),
                "k8s-file" => throw new UsageException("k8s-file requires a filename"),
                _ => new ConmonLogSpec("k8s-file", v),
            };
        }
        string driver = v[..colon], path = v[(colon + 1)..];
        return driver switch
        {
            "k8s-file" when path.Length == 0 => throw new UsageException("k8s-file requires a filename"),
            "k8s-file" or "journald" or "passthrough" => new ConmonLogSpec(driver, path.Length == 0 ? null : path),
            "none" or "off" or "null" => new ConmonLogSpec("none", null),
            // conmon: a value with ':' and no known driver is a k8s-file path (e.g. "/a:b").
            _ when v.StartsWith('/') => new ConmonLogSpec("k8s-file", v),
            _ => throw new UsageException($"No such log driver {driver}"),
        };
    }

    static int Int(string v, string flag) =>
        int.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int n) ? n
            : throw new UsageException($"{flag}: '{v}' is not a number");

    static LogLevel ParseLevel(string v) => v.ToLowerInvariant() switch
    {
        "trace" => LogLevel.Trace,
        "debug" => LogLevel.Debug,
        "info" => LogLevel.Info,
        "warn" or "warning" => LogLevel.Warn,
        "error" or "fatal" or "panic" => LogLevel.Error,
        "off" or "none" => LogLevel.Off,
        _ => throw new UsageException($"No such log level {v}"),
    };
}
