using Podmon.Containers;
using Podmon.Diagnostics;

namespace Podmon.Cli;

/// <summary>
/// Parses the conmon-rs command line: `--flag value`, `--flag=value`, `-f value`, `-fvalue`;
/// each flag falls back to its CONMON_* variable, then to the conmon-rs default. The options,
/// their values and variables are <see cref="OptionTable"/>'s (ServerMode); what each one
/// does here is <see cref="Actions"/>.
/// </summary>
public static class CommandLine
{
    /// <summary>What the parse has found so far.</summary>
    sealed class State
    {
        public readonly ServerOptions Server = new();
        public VersionVerbosity? Version;
        public bool VersionJson, Help;
        public readonly List<string> Ignored = [];
    }

    /// <summary>
    /// The managed side of every server option the table marks Acts and Managed, by long name.
    /// The value is null for a flag; <c>source</c> is the spelling or variable it came from.
    /// </summary>
    static readonly Dictionary<string, Action<State, string?, string>> Actions = new(StringComparer.Ordinal)
    {
        ["--help"] = (p, _, _) => p.Help = true,
        ["--version"] = (p, v, source) => p.Version = ParseVerbosity(v ?? "default", source),
        ["--version-json"] = (p, v, source) => (p.VersionJson, p.Version) = (true, ParseVerbosity(v ?? "default", source)),
        ["--log-level"] = (p, v, source) => p.Server.LogLevel = ParseLogLevel(v!, source),
        ["--log-driver"] = (p, v, source) => p.Server.LogDriver = ParseLogDriver(v!, source),
        ["--runtime"] = (p, v, _) => p.Server.Runtime = v!,
        ["--runtime-dir"] = (p, v, _) => p.Server.RuntimeDir = v!,
        ["--runtime-root"] = (p, v, _) => p.Server.RuntimeRoot = v,
        // native/early.c checks the value and acts on it (no daemon) before the runtime starts.
        ["--skip-fork"] = (_, _, _) => { },
        ["--cgroup-manager"] = (p, v, source) => p.Server.CgroupManager = ParseCgroupManager(v!, source),
        ["--enable-tracing"] = (p, v, source) => p.Server.EnableTracing = v is null || ParseBool(v, source),
        ["--tracing-endpoint"] = (p, v, _) => p.Server.TracingEndpoint = v!,
    };

    /// <summary>The long names <see cref="Actions"/> acts on (for the table's parity test).</summary>
    internal static IReadOnlyCollection<string> ActedOn => Actions.Keys;

    static readonly string[] VerbosityNames = ["default", "full"];

    public static Command Parse(IReadOnlyList<string> args, Func<string, string?> env)
    {
        var p = new State();
        foreach (OptionSpec o in OptionTable.All)
            if (o.Command == OptionCommand.ServerMode && o.Env is { } name && o.IsParsedBy(OptionParsers.Managed) && env(name) is { } value)
                Apply(p, o, value, name);
        var reader = new ArgReader(args);
        while (reader.Next(out string arg))
        {
            if (arg == "pause") return PauseHelp(reader, p.Server);
            string flag = reader.Name(arg);
            if (OptionTable.Find(OptionCommand.ServerMode, flag) is not { } o || !o.IsParsedBy(OptionParsers.Managed))
                throw new UsageException(arg.StartsWith('-')
                    ? $"unexpected argument '{arg}' (see --help)"
                    : $"unexpected argument '{arg}': the only subcommand is 'pause' (see --help)");
            string? value = o.Arity switch
            {
                OptionArity.Flag => null,
                OptionArity.Bool => reader.Attached,
                OptionArity.Value => reader.Value(flag),
                _ => reader.OptionalValue(VerbosityNames), // --version, --version-json
            };
            Apply(p, o, value, flag);
        }
        CommandKind kind = p.Help ? CommandKind.Help
            : p.Version is null ? CommandKind.Server
            : p.VersionJson ? CommandKind.VersionJson : CommandKind.Version;
        return new Command { Kind = kind, Verbosity = p.Version ?? VersionVerbosity.Default, Server = p.Server, Ignored = p.Ignored };
    }

    static void Apply(State p, OptionSpec o, string? value, string source)
    {
        switch (o.Handling)
        {
            case OptionHandling.Acts:
                Actions[o.Long](p, value, source);
                break;
            case OptionHandling.Ignored:
                p.Ignored.Add(o.Long);
                break;
            default:
                throw new UsageException(o.What);
        }
    }

    /// <summary>
    /// native/early.c runs `podmon pause ...` in native/pause.c before the runtime starts; only
    /// `pause --help` (or -h) is left to this parser, which prints the usage.
    /// </summary>
    static Command PauseHelp(ArgReader reader, ServerOptions server)
    {
        while (reader.Next(out string arg))
            if (OptionTable.Find(OptionCommand.Pause, arg) is { } o && o.IsParsedBy(OptionParsers.Managed))
                return new Command { Kind = CommandKind.Help, Server = server };
        throw new UsageException("pause: runs in native/pause.c before the .NET runtime starts, not here");
    }

    static VersionVerbosity ParseVerbosity(string v, string flag) => v switch
    {
        "default" => VersionVerbosity.Default,
        "full" => VersionVerbosity.Full,
        _ => throw Invalid(flag, v, "default, full"),
    };

    static LogLevel ParseLogLevel(string v, string flag) => v switch
    {
        "trace" => LogLevel.Trace, "debug" => LogLevel.Debug, "info" => LogLevel.Info,
        "warn" => LogLevel.Warn, "error" => LogLevel.Error, "off" => LogLevel.Off,
        _ => throw Invalid(flag, v, "trace, debug, info, warn, error, off"),
    };

    static LogDriverKind ParseLogDriver(string v, string flag) => v switch
    {
        "stdout" => LogDriverKind.Stdout,
        "systemd" => LogDriverKind.Systemd,
        "none" => LogDriverKind.None,
        _ => throw Invalid(flag, v, "stdout, systemd, none"),
    };

    static CgroupManager ParseCgroupManager(string v, string flag) => v switch
    {
        "systemd" => CgroupManager.Systemd,
        "cgroupfs" => CgroupManager.Cgroupfs,
        _ => throw Invalid(flag, v, "systemd, cgroupfs"),
    };

    static bool ParseBool(string v, string flag) => v.ToLowerInvariant() switch
    {
        "" or "0" or "n" or "no" or "f" or "false" or "off" => false,
        "1" or "y" or "yes" or "t" or "true" or "on" => true,
        _ => throw Invalid(flag, v, "true, false"),
    };

    static UsageException Invalid(string flag, string value, string allowed) =>
        new($"invalid value '{value}' for '{flag}' (possible values: {allowed})");
}
