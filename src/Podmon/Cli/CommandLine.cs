using Podmon.Containers;
using Podmon.Diagnostics;

namespace Podmon.Cli;

/// <summary>
/// Parses the conmon-rs command line: `--flag value`, `--flag=value`, `-f value`, `-fvalue`;
/// each flag falls back to its CONMON_* variable, then to the conmon-rs default.
/// </summary>
public static class CommandLine
{
    public static Command Parse(IReadOnlyList<string> args, Func<string, string?> env)
    {
        var server = new ServerOptions();
        ApplyEnvironment(server, env);
        VersionVerbosity? version = env("CONMON_VERSION") is { } ev ? ParseVerbosity(ev, "CONMON_VERSION") : null;
        bool versionJson = false, help = false;
        var reader = new ArgReader(args);
        while (reader.Next(out string arg))
        {
            if (arg == "pause") return PauseHelp(reader, server);
            string flag = reader.Name(arg);
            switch (flag)
            {
                case "-h" or "--help": help = true; break;
                case "-v" or "--version":
                    version = ParseVerbosity(reader.OptionalValue(flag, VerbosityNames) ?? "default", flag);
                    break;
                case "--version-json":
                    versionJson = true;
                    version = ParseVerbosity(reader.OptionalValue(flag, VerbosityNames) ?? "default", flag);
                    break;
                case "-l" or "--log-level": server.LogLevel = ParseLogLevel(reader.Value(flag), flag); break;
                case "-d" or "--log-driver": server.LogDriver = ParseLogDriver(reader.Value(flag), flag); break;
                case "-r" or "--runtime": server.Runtime = reader.Value(flag); break;
                case "--runtime-dir": server.RuntimeDir = reader.Value(flag); break;
                case "--runtime-root": server.RuntimeRoot = reader.Value(flag); break;
                case "--skip-fork": server.SkipFork = reader.Bool(flag); break;
                case "-c" or "--cgroup-manager": server.CgroupManager = ParseCgroupManager(reader.Value(flag), flag); break;
                case "-e" or "--enable-tracing": server.EnableTracing = reader.Bool(flag); break;
                case "-t" or "--tracing-endpoint": server.TracingEndpoint = reader.Value(flag); break;
                default:
                    throw new UsageException(arg.StartsWith('-')
                        ? $"unexpected argument '{arg}' (see --help)"
                        : $"unexpected argument '{arg}': the only subcommand is 'pause' (see --help)");
            }
        }
        if (help) return new Command { Kind = CommandKind.Help, Server = server };
        if (version is { } v)
            return new Command { Kind = versionJson ? CommandKind.VersionJson : CommandKind.Version, Verbosity = v, Server = server };
        return new Command { Kind = CommandKind.Server, Server = server };
    }

    static readonly string[] VerbosityNames = ["default", "full"];

    static void ApplyEnvironment(ServerOptions s, Func<string, string?> env)
    {
        s.LogLevel = Parse(env("CONMON_LOG_LEVEL"), "CONMON_LOG_LEVEL", ParseLogLevel, s.LogLevel);
        s.LogDriver = Parse(env("CONMON_LOG_DRIVER"), "CONMON_LOG_DRIVER", ParseLogDriver, s.LogDriver);
        s.Runtime = env("CONMON_RUNTIME") ?? s.Runtime;
        s.RuntimeDir = env("CONMON_RUNTIME_DIR") ?? s.RuntimeDir;
        s.RuntimeRoot = env("CONMON_RUNTIME_ROOT") ?? s.RuntimeRoot;
        s.SkipFork = Parse(env("CONMON_SKIP_FORK"), "CONMON_SKIP_FORK", ParseBool, s.SkipFork);
        s.CgroupManager = Parse(env("CONMON_CGROUP_MANAGER"), "CONMON_CGROUP_MANAGER", ParseCgroupManager, s.CgroupManager);
        s.EnableTracing = Parse(env("CONMON_ENABLE_TRACING"), "CONMON_ENABLE_TRACING", ParseBool, s.EnableTracing);
        s.TracingEndpoint = env("CONMON_TRACING_ENDPOINT") ?? s.TracingEndpoint;
    }

    static T Parse<T>(string? value, string source, Func<string, string, T> parse, T fallback) =>
        value is null ? fallback : parse(value, source);

    /// <summary>
    /// native/early.c runs `podmon pause ...` in native/pause.c before the runtime starts; only
    /// `pause --help` (or -h) is left to this parser, which prints the usage.
    /// </summary>
    static Command PauseHelp(ArgReader reader, ServerOptions server)
    {
        while (reader.Next(out string arg))
            if (arg is "-h" or "--help") return new Command { Kind = CommandKind.Help, Server = server };
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

    internal static bool ParseBool(string v, string flag) => v.ToLowerInvariant() switch
    {
        "" or "0" or "n" or "no" or "f" or "false" or "off" => false,
        "1" or "y" or "yes" or "t" or "true" or "on" => true,
        _ => throw Invalid(flag, v, "true, false"),
    };

    static UsageException Invalid(string flag, string value, string allowed) =>
        new($"invalid value '{value}' for '{flag}' (possible values: {allowed})");

    /// <summary>Walks argv, splitting `--name=value` and `-xVALUE`.</summary>
    sealed class ArgReader(IReadOnlyList<string> args)
    {
        int _i;
        string? _inline;

        public bool Next(out string arg)
        {
            _inline = null;
            if (_i >= args.Count) { arg = ""; return false; }
            arg = args[_i++];
            return true;
        }

        /// <summary>The flag's name; remembers an attached value.</summary>
        public string Name(string arg)
        {
            if (arg.StartsWith("--"))
            {
                int eq = arg.IndexOf('=');
                if (eq < 0) return arg;
                _inline = arg[(eq + 1)..];
                return arg[..eq];
            }
            if (arg.Length > 2 && arg[0] == '-')
            {
                _inline = arg[2..].StartsWith('=') ? arg[3..] : arg[2..];
                return arg[..2];
            }
            return arg;
        }

        public string Value(string flag)
        {
            if (_inline is not null) return _inline;
            // Like clap: a following flag is not taken as the value.
            if (_i >= args.Count || args[_i].Length > 1 && args[_i][0] == '-')
                throw new UsageException($"a value is required for '{flag}' but none was supplied");
            return args[_i++];
        }

        /// <summary>A value that may be omitted (`--version`, `--version full`).</summary>
        public string? OptionalValue(string flag, string[] known)
        {
            if (_inline is not null) return _inline;
            if (_i < args.Count && Array.IndexOf(known, args[_i]) >= 0) return args[_i++];
            return null;
        }

        public bool Bool(string flag) => _inline is null || ParseBool(_inline, flag);
    }
}
