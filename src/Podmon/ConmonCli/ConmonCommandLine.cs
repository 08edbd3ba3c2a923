using System.Globalization;
using Podmon.Cli;
using Podmon.Diagnostics;

namespace Podmon.ConmonCli;

/// <summary>
/// Parses conmon's flags like glib's option parser: `--long value`, `--long=value`, `-s value`,
/// `-svalue`, grouped boolean shorts (`-ti`). The options and how they take values are
/// <see cref="OptionTable"/>'s (ConmonMode); what each one sets is <see cref="Actions"/>.
/// Unknown flags are a <see cref="UsageException"/>.
/// </summary>
public static class ConmonCommandLine
{
    /// <summary>The managed side of every conmon option the table marks Acts and Managed, by long name; the value is null for a flag.</summary>
    static readonly Dictionary<string, Action<ConmonOptions, string?>> Actions = new(StringComparer.Ordinal)
    {
        // glib's G_OPTION_ARG_NONE in conmon: `--api-version` alone is 1; podman passes `--api-version 1`.
        ["--api-version"] = (o, v) => o.ApiVersion = v is null ? 1 : Int(v, "--api-version"),
        ["--cid"] = (o, v) => o.Cid = v,
        ["--cuuid"] = (o, v) => o.Cuuid = v,
        ["--name"] = (o, v) => o.Name = v,
        ["--runtime"] = (o, v) => o.Runtime = v,
        ["--bundle"] = (o, v) => o.Bundle = v,
        ["--container-pidfile"] = (o, v) => o.ContainerPidfile = v,
        ["--pidfile"] = (o, v) => o.ContainerPidfile = v,
        ["--conmon-pidfile"] = (o, v) => o.ConmonPidfile = v,
        ["--persist-dir"] = (o, v) => o.PersistDir = v,
        ["--exit-dir"] = (o, v) => o.ExitDir = v,
        ["--exit-command"] = (o, v) => o.ExitCommand = v,
        ["--exit-command-arg"] = (o, v) => o.ExitCommandArgs.Add(v!),
        ["--exit-delay"] = (o, v) => o.ExitDelaySec = Int(v!, "--exit-delay"),
        ["--log-path"] = (o, v) => o.Logs.Add(ParseLog(v!)),
        ["--log-size-max"] = (o, v) => o.LogSizeMax = long.Parse(v!, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture),
        ["--log-global-size-max"] = (o, v) => o.LogGlobalSizeMax = long.Parse(v!, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture),
        ["--log-tag"] = (o, v) => o.LogTag = v,
        ["--log-label"] = (o, v) => o.LogLabels.Add(v!),
        ["--no-sync-log"] = (o, _) => o.NoSyncLog = true,
        ["--log-level"] = (o, v) => o.LogLevel = ParseLevel(v!),
        ["--syslog"] = (o, _) => o.Syslog = true,
        ["--runtime-arg"] = (o, v) => o.RuntimeArgs.Add(v!),
        ["--runtime-opt"] = (o, v) => o.RuntimeOpts.Add(v!),
        ["--restore-arg"] = (o, v) => o.RuntimeOpts.Add(v!),
        ["--terminal"] = (o, _) => o.Terminal = true,
        ["--stdin"] = (o, _) => o.Stdin = true,
        ["--leave-stdin-open"] = (o, _) => o.LeaveStdinOpen = true,
        ["--exec"] = (o, _) => o.Exec = true,
        ["--exec-attach"] = (o, _) => o.ExecAttach = true,
        ["--exec-process-spec"] = (o, v) => o.ExecProcessSpec = v,
        ["--sync"] = (o, _) => o.Sync = true,
        ["--socket-dir-path"] = (o, v) => o.SocketDirPath = v,
        ["--full-attach"] = (o, _) => o.FullAttach = true,
        ["--systemd-cgroup"] = (o, _) => o.SystemdCgroup = true,
        ["--no-pivot"] = (o, _) => o.NoPivot = true,
        ["--no-new-keyring"] = (o, _) => o.NoNewKeyring = true,
        ["--timeout"] = (o, v) => o.TimeoutSec = Int(v!, "--timeout"),
        ["--restore"] = (o, v) => o.Restore = v,
    };

    /// <summary>The long names <see cref="Actions"/> acts on (for the table's parity test).</summary>
    internal static IReadOnlyCollection<string> ActedOn => Actions.Keys;

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
                string name = eq < 0 ? a : a[..eq];
                OptionSpec opt = Find(name) ?? throw new UsageException($"unknown option {name}");
                if (opt.Arity is OptionArity.Flag or OptionArity.Bool)
                {
                    if (eq >= 0) throw new UsageException($"option {name} takes no value");
                    Apply(o, opt, null);
                }
                else if (eq >= 0) Apply(o, opt, a[(eq + 1)..]);
                else if (opt.Arity == OptionArity.OptionalValue && (i + 1 >= args.Count || args[i + 1].StartsWith('-'))) Apply(o, opt, null);
                else if (i + 1 < args.Count) Apply(o, opt, args[++i]);
                else throw new UsageException($"missing argument for {name}");
            }
            else if (a.Length > 1 && a[0] == '-')
            {
                for (int j = 1; j < a.Length; j++)
                {
                    OptionSpec opt = Find($"-{a[j]}") ?? throw new UsageException($"unknown option -{a[j]}");
                    if (opt.Arity is OptionArity.Flag or OptionArity.Bool) { Apply(o, opt, null); continue; }
                    if (j + 1 < a.Length) Apply(o, opt, a[(j + 1)..]);
                    else if (i + 1 < args.Count) Apply(o, opt, args[++i]);
                    else throw new UsageException($"missing argument for -{a[j]}");
                    break;
                }
            }
            else throw new UsageException($"unexpected argument '{a}'");
        }
        return o;
    }

    /// <summary>The table's conmon option named <paramref name="name"/> if this parser reads it (--version and --help never get here: native/early.c sends them to the server command line).</summary>
    static OptionSpec? Find(string name) =>
        OptionTable.Find(OptionCommand.ConmonMode, name) is { } o && o.IsParsedBy(OptionParsers.Managed) ? o : null;

    static void Apply(ConmonOptions o, OptionSpec opt, string? value)
    {
        switch (opt.Handling)
        {
            case OptionHandling.Acts:
                Actions[opt.Long](o, value);
                break;
            case OptionHandling.Ignored:
                if (!o.Ignored.Contains(opt.Long)) o.Ignored.Add(opt.Long);
                break;
            default:
                throw new UsageException(opt.What);
        }
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
