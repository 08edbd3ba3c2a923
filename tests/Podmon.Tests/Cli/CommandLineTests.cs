using Podmon.Containers;
using Podmon.Diagnostics;
using Podmon.Cli;

namespace Podmon.Tests.Cli;

public class CommandLineTests
{
    static Command Parse(string args, Dictionary<string, string>? env = null) =>
        CommandLine.Parse(args.Length == 0 ? [] : args.Split(' '), k => env?.GetValueOrDefault(k));

    [Fact]
    public void DefaultsMatchConmonRs()
    {
        var c = Parse("");
        Assert.Equal(CommandKind.Server, c.Kind);
        Assert.Equal(LogLevel.Info, c.Server.LogLevel);
        Assert.Equal(LogDriverKind.Systemd, c.Server.LogDriver);
        Assert.Equal(CgroupManager.Systemd, c.Server.CgroupManager);
        Assert.Null(c.Server.RuntimeRoot);
    }

    [Fact]
    public void AllValueSpellings()
    {
        var c = Parse("--runtime /usr/bin/runc --runtime-dir=/run/p -l debug -dstdout --runtime-root /run/r --skip-fork -c cgroupfs");
        Assert.Equal("/usr/bin/runc", c.Server.Runtime);
        Assert.Equal("/run/p", c.Server.RuntimeDir);
        Assert.Equal("/run/p/conmon.sock", c.Server.SocketPath);
        Assert.Equal("/run/p/pidfile", c.Server.PidfilePath);
        Assert.Equal(LogLevel.Debug, c.Server.LogLevel);
        Assert.Equal(LogDriverKind.Stdout, c.Server.LogDriver);
        Assert.Equal("/run/r", c.Server.RuntimeRoot);
        Assert.Equal(CgroupManager.Cgroupfs, c.Server.CgroupManager);
    }

    [Fact]
    public void EnvironmentFillsWhatFlagsDoNotSay()
    {
        var env = new Dictionary<string, string>
        {
            ["CONMON_RUNTIME"] = "/env/runc", ["CONMON_RUNTIME_DIR"] = "/env/dir",
            ["CONMON_LOG_LEVEL"] = "warn", ["CONMON_SKIP_FORK"] = "true", ["CONMON_LOG_DRIVER"] = "none",
        };
        var c = Parse("--runtime /flag/runc", env);
        Assert.Equal("/flag/runc", c.Server.Runtime); // the flag wins
        Assert.Equal("/env/dir", c.Server.RuntimeDir);
        Assert.Equal(LogLevel.Warn, c.Server.LogLevel);
        Assert.Equal(LogDriverKind.None, c.Server.LogDriver);
    }

    [Theory]
    [InlineData("--version", CommandKind.Version, VersionVerbosity.Default)]
    [InlineData("-v", CommandKind.Version, VersionVerbosity.Default)]
    [InlineData("--version full", CommandKind.Version, VersionVerbosity.Full)]
    [InlineData("--version=full", CommandKind.Version, VersionVerbosity.Full)]
    [InlineData("--version-json", CommandKind.VersionJson, VersionVerbosity.Default)]
    [InlineData("--version-json full", CommandKind.VersionJson, VersionVerbosity.Full)]
    [InlineData("--runtime-dir /x --version", CommandKind.Version, VersionVerbosity.Default)]
    public void VersionForms(string args, CommandKind kind, VersionVerbosity verbosity)
    {
        var c = Parse(args);
        Assert.Equal(kind, c.Kind);
        Assert.Equal(verbosity, c.Verbosity);
    }

    [Theory]
    [InlineData("-h")]
    [InlineData("--help")]
    [InlineData("--runtime x --help")]
    public void Help(string args) => Assert.Equal(CommandKind.Help, Parse(args).Kind);

    /// <summary>native/early.c runs `pause` in C before the runtime; it leaves only `pause --help` to the managed side.</summary>
    [Theory]
    [InlineData("pause --help")]
    [InlineData("pause --pod-id x -h")]
    [InlineData("--runtime x pause --help")]
    public void PauseHelpIsTheUsage(string args) => Assert.Equal(CommandKind.Help, Parse(args).Kind);

    [Theory]
    [InlineData("--bogus", "unexpected argument '--bogus' (see --help)")]
    [InlineData("stray", "unexpected argument 'stray': the only subcommand is 'pause' (see --help)")]
    [InlineData("--log-level loud", "invalid value 'loud' for '--log-level' (possible values: trace, debug, info, warn, error, off)")]
    [InlineData("--log-driver file", "invalid value 'file' for '--log-driver' (possible values: stdout, systemd, none)")]
    [InlineData("--cgroup-manager x", "invalid value 'x' for '--cgroup-manager' (possible values: systemd, cgroupfs)")]
    [InlineData("--version loud", "unexpected argument 'loud': the only subcommand is 'pause' (see --help)")]
    [InlineData("--version=loud", "invalid value 'loud' for '--version' (possible values: default, full)")]
    [InlineData("--runtime", "a value is required for '--runtime' but none was supplied")]
    [InlineData("--enable-tracing=maybe", "invalid value 'maybe' for '--enable-tracing' (possible values: true, false)")]
    [InlineData("pause --pod-id x", "pause: runs in native/pause.c before the .NET runtime starts, not here")]
    public void ErrorsAreOneClearLine(string args, string message)
    {
        var e = Assert.Throws<UsageException>(() => Parse(args));
        Assert.Equal(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void BadEnvironmentValueNamesTheVariable()
    {
        var e = Assert.Throws<UsageException>(() => Parse("", new() { ["CONMON_LOG_LEVEL"] = "loud" }));
        Assert.Contains("'CONMON_LOG_LEVEL'", e.Message);
    }
}
