using Podmon.Diagnostics;
using Podmon.Cli;
using Podmon.ConmonCli;

namespace Podmon.Tests.ConmonCli;

/// <summary>The conmon-mode parser against podman 4.3.1's real argv (tests/fixtures/conmon-cli/captures).</summary>
public class ConmonCommandLineTests
{
    public static string CapturesDir => Repo.ConmonCliCaptures;

    /// <summary>argv[1..] of a capture file ("argv[N]: value" lines).</summary>
    public static List<string> CapturedArgs(string file)
    {
        var args = new List<string>();
        foreach (string line in File.ReadLines(file))
        {
            if (!line.StartsWith("argv[", StringComparison.Ordinal)) continue;
            int close = line.IndexOf("]: ", StringComparison.Ordinal);
            if (line[5..close] == "0") continue;
            args.Add(line[(close + 3)..]);
        }
        return args;
    }

    public static TheoryData<string> MonitorCaptures()
    {
        var data = new TheoryData<string>();
        foreach (string f in Directory.GetFiles(CapturesDir, "*conmon-*.txt").Order())
            if (!f.Contains("conmon-version")) data.Add(Path.GetFileName(f));
        return data;
    }

    [Theory]
    [MemberData(nameof(MonitorCaptures))]
    public void Every_flag_podman_passes_parses(string capture)
    {
        List<string> args = CapturedArgs(Path.Combine(CapturesDir, capture));
        Assert.True(args.Count > 40, $"{capture}: only {args.Count} arguments");
        ConmonOptions o = ConmonCommandLine.Parse(args);

        Assert.Equal(1, o.ApiVersion);
        Assert.Equal(args[args.IndexOf("-c") + 1], o.Cid);
        Assert.Equal(args[args.IndexOf("-u") + 1], o.Cuuid);
        Assert.Equal("/usr/sbin/runc", o.Runtime);
        Assert.Equal(args[args.IndexOf("-b") + 1], o.Bundle);
        Assert.Equal(args[args.IndexOf("-p") + 1], o.ContainerPidfile);
        Assert.True(o.FullAttach);
        Assert.Equal(LogLevel.Warn, o.LogLevel);
        // Both spellings: "--runtime-arg X" twice, then "--runtime-arg=PATH".
        Assert.Equal(3, o.RuntimeArgs.Count);
        Assert.Equal("--log-format=json", o.RuntimeArgs[0]);
        Assert.Equal("--log", o.RuntimeArgs[1]);
        Assert.EndsWith("/oci-log", o.RuntimeArgs[2]);
        Assert.Equal("/usr/bin/podman", o.ExitCommand);
        Assert.Equal(args.Count(a => a == "--exit-command-arg"), o.ExitCommandArgs.Count);
        Assert.Equal(o.Cid, o.ExitCommandArgs[^1]);
        Assert.Contains("cleanup", o.ExitCommandArgs);
        Assert.Equal(args.Contains("-t"), o.Terminal);
        Assert.Equal(args.Contains("-i"), o.Stdin);
        bool exec = capture.Contains("conmon-exec");
        Assert.Equal(exec, o.Exec);
        if (exec)
        {
            Assert.True(o.ExecAttach);
            Assert.Contains("/exec-process-", o.ExecProcessSpec);
            Assert.Null(o.ConmonPidfile);
            Assert.Equal([new ConmonLogSpec("none", null)], o.Logs);
        }
        else
        {
            Assert.EndsWith("/conmon.pid", o.ConmonPidfile);
            Assert.Single(o.Logs);
            Assert.Equal("k8s-file", o.Logs[0].Driver);
            Assert.EndsWith("/userdata/ctr.log", o.Logs[0].Path);
            Assert.Equal(capture.Contains("--rm") || args.Contains("--rm"), o.ExitCommandArgs.Contains("--rm"));
        }
        Assert.Empty(o.Ignored);
    }

    /// <summary>podman's probe is `--version` alone, which native/early.c sends to the server command line (Program prints "conmon version 2.1.6" first).</summary>
    [Fact]
    public void Version_probe_argv_is_just_version()
    {
        string[] probes = Directory.GetFiles(CapturesDir, "*conmon-version-*.txt");
        Assert.NotEmpty(probes);
        foreach (string f in probes)
        {
            Assert.Equal(["--version"], CapturedArgs(f));
            Assert.Equal(CommandKind.Version, CommandLine.Parse(CapturedArgs(f), _ => null).Kind);
        }
    }

    [Fact]
    public void Runtime_arg_both_spellings_keep_order()
    {
        ConmonOptions o = ConmonCommandLine.Parse(["--runtime-arg", "a", "--runtime-arg=b", "--runtime-arg", "--c=d", "--runtime-opt=--x", "--runtime-opt", "y"]);
        Assert.Equal(["a", "b", "--c=d"], o.RuntimeArgs);
        Assert.Equal(["--x", "y"], o.RuntimeOpts);
    }

    [Fact]
    public void Crio_style_direct_launch_flags()
    {
        ConmonOptions o = ConmonCommandLine.Parse(["--api-version", "1", "-c", "id", "-u", "uu", "-n", "nm", "-r", "/usr/sbin/runc",
            "--runtime-arg", "--root=/r", "-b", "/b", "-p", "/b/pidfile", "-P", "/b/conmon.pid", "-l", "k8s-file:/l/x.log",
            "--exit-dir", "/e", "--socket-dir-path", "/s", "--log-level", "info", "--log-size-max", "4096", "--no-sync-log",
            "--log-tag", "tag", "--log-label", "A=b", "--exit-delay", "2", "--leave-stdin-open", "--systemd-cgroup",
            "--no-pivot", "--no-new-keyring", "--timeout", "9", "--persist-dir", "/p", "--syslog", "-l", "journald:", "-ti"]);
        Assert.Equal(("id", "uu", "nm", "/b/conmon.pid", "/s", "/e"), (o.Cid, o.Cuuid, o.Name, o.ConmonPidfile, o.SocketDirPath, o.ExitDir));
        Assert.Equal(4096, o.LogSizeMax);
        Assert.True(o.NoSyncLog && o.LeaveStdinOpen && o.SystemdCgroup && o.NoPivot && o.NoNewKeyring && o.Syslog && o.Terminal && o.Stdin);
        Assert.Equal((9, 2, "/p", "tag"), (o.TimeoutSec, o.ExitDelaySec, o.PersistDir, o.LogTag));
        Assert.Equal(["A=b"], o.LogLabels);
        Assert.Equal([new ConmonLogSpec("k8s-file", "/l/x.log"), new ConmonLogSpec("journald", null)], o.Logs);
        Assert.Equal(LogLevel.Info, o.LogLevel);
    }

    [Theory]
    [InlineData("/var/log/c.log", "k8s-file", "/var/log/c.log")]
    [InlineData("k8s-file:/x", "k8s-file", "/x")]
    [InlineData("none", "none", null)]
    [InlineData("off", "none", null)]
    [InlineData("journald:mytag", "journald", "mytag")]
    [InlineData("journald", "journald", null)]
    [InlineData("passthrough", "passthrough", null)]
    public void Log_specs(string value, string driver, string? path) =>
        Assert.Equal(new ConmonLogSpec(driver, path), ConmonCommandLine.ParseLog(value));

    [Theory]
    [InlineData("--bogus")]
    [InlineData("--cid")]
    [InlineData("-Z")]
    [InlineData("--full-attach=yes")]
    [InlineData("stray")]
    [InlineData("-l", "syslog:x")]
    [InlineData("-l", "k8s-file:")]
    [InlineData("--log-level", "loud")]
    public void Bad_arguments_are_usage_errors(params string[] args) =>
        Assert.Throws<UsageException>(() => ConmonCommandLine.Parse(args));

    [Fact]
    public void Validation_names_the_missing_flag()
    {
        Assert.Contains("--cid", Assert.Throws<UsageException>(() => ConmonCommandLine.Parse(["-u", "x", "-r", "/usr/sbin/runc"]).Validate()).Message);
        Assert.Contains("--cuuid", Assert.Throws<UsageException>(() => ConmonCommandLine.Parse(["-c", "x", "-r", "/usr/sbin/runc"]).Validate()).Message);
        Assert.Contains("--runtime", Assert.Throws<UsageException>(() => ConmonCommandLine.Parse(["-c", "x", "-u", "x"]).Validate()).Message);
        Assert.Contains("--exec-process-spec", Assert.Throws<UsageException>(() =>
            ConmonCommandLine.Parse(["-c", "x", "-u", "x", "-r", "/usr/sbin/runc", "-e"]).Validate()).Message);
        Assert.Contains("exec", Assert.Throws<UsageException>(() =>
            ConmonCommandLine.Parse(["-c", "x", "-u", "x", "-r", "/usr/sbin/runc", "--exec-attach"]).Validate()).Message);
    }

    [Fact]
    public void Sync_messages_are_conmons()
    {
        Assert.Equal("{\"data\": 18451}\n", SyncPipe.Message("data", 18451, null));
        Assert.Equal("{\"data\": -1, \"message\": \"a\\\"b\\\\c\\nd\\u0001\"}\n", SyncPipe.Message("data", -1, "a\"b\\c\nd\u0001"));
        Assert.Equal("{\"pid\": 7}\n", SyncPipe.Message("pid", 7, ""));
    }

    /// <summary>conmon's write_sync_fd: the key is "data" with --api-version, else "exit_code" for an exec and "pid" for a container.</summary>
    [Theory]
    [InlineData(1, false, "data")]
    [InlineData(1, true, "data")]
    [InlineData(0, false, "pid")]
    [InlineData(0, true, "exit_code")]
    public void Sync_key_follows_the_callers_dialect(int api, bool exec, string key) =>
        Assert.Equal(key, SyncPipe.KeyFor(api, exec));

    [Fact]
    public void Crio_exec_sync_command_line_is_accepted_without_a_bundle()
    {
        // CRI-O 1.26 runtime_oci.go ExecSyncContainer: no -b, no -u, no --api-version, --sync.
        ConmonOptions o = ConmonCommandLine.Parse(["-c", "ctr", "-n", "k8s_ctr", "-r", "/usr/sbin/runc", "-p", "/tmp/pidfile1", "-e",
            "-l", "/tmp/crio-log-ctr", "--socket-dir-path", "/var/run/crio", "--log-level", "debug", "--sync",
            "--log-global-size-max", "16777216", "-t", "-T", "2", "--exec-process-spec", "/tmp/exec-process-1",
            "--runtime-arg", "--root=/run/runc"]);
        o.Validate();
        Assert.True(o.Sync);
        Assert.True(o.Exec);
        Assert.Equal(0, o.ApiVersion);
        Assert.Null(o.Bundle); // conmon: no bundle, so no attach socket and no control FIFOs
        Assert.Null(o.Cuuid);
        Assert.Equal(16777216, o.LogGlobalSizeMax);
        Assert.Empty(o.Ignored);
    }

    [Fact]
    public void Exec_attach_needs_the_api_version() =>
        Assert.Contains("non-legacy", Assert.Throws<UsageException>(() =>
            ConmonCommandLine.Parse(["-c", "x", "-r", "/usr/sbin/runc", "-e", "--exec-process-spec", "/p", "--exec-attach"]).Validate()).Message);
}
