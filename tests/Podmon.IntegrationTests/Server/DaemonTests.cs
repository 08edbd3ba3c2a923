using System.Diagnostics;
using Podmon.Sys;

namespace Podmon.IntegrationTests.Server;

/// <summary>The published binary as a conmon-rs style server: launcher, daemon, signals, errors.</summary>
public class DaemonTests
{
    static string[] ServerArgs(PodmonProcess.RuntimeDir dir, params string[] extra) =>
        ["--runtime", "/bin/true", "--runtime-dir", dir.Path, "--log-driver", "none", .. extra];

    static void StopAndExpectGone(int pid, PodmonProcess.RuntimeDir dir)
    {
        Errno.Check(Libc.kill(pid, Libc.SIGTERM), "kill");
        Assert.True(PodmonProcess.WaitUntil(() => !PodmonProcess.IsAlive(pid)), "server did not exit on SIGTERM");
        Assert.False(File.Exists(dir.Socket), "socket left behind after SIGTERM");
    }

    [Fact]
    public void LauncherReturnsOnceListeningAndPidfileNamesTheDaemon()
    {
        using var dir = new PodmonProcess.RuntimeDir();
        var r = PodmonProcess.Run(ServerArgs(dir));
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("", r.Stdout + r.Stderr);
        // Already listening when the launcher returned: no waiting here.
        Assert.True(File.Exists(dir.Socket));
        int pid = dir.ServerPid ?? throw new Xunit.Sdk.XunitException("no pidfile");
        Assert.True(PodmonProcess.IsAlive(pid));
        Assert.True(PodmonProcess.IsPodmon(pid));
        using (var client = UnixSocket.Connect(dir.Socket))
            Assert.Equal(pid, UnixSocket.PeerCredentials(client.Value).Pid);

        var status = PodmonProcess.Status(pid);
        Assert.Equal(pid.ToString(), status["NSsid"]); // session leader, no terminal
        Assert.Equal("2", status["Threads"]);
        // The runtime started after the fork (in the daemon): it has its finalizer thread.
        // A fork after runtime start would leave the child with the main thread only.
        // The finalizer thread names itself once it runs, which a loaded machine may delay past the launcher's return.
        List<string> ThreadNames() => Directory.GetDirectories($"/proc/{pid}/task").Select(t => File.ReadAllText(t + "/comm").Trim()).ToList();
        PodmonProcess.WaitUntil(() => ThreadNames().Contains(".NET Finalizer"), 5000);
        Assert.Contains(".NET Finalizer", ThreadNames());
        Assert.Equal("0000000000015007", status["SigBlk"]); // SIGHUP INT QUIT PIPE TERM CHLD, on every thread
        foreach (int fd in new[] { 0, 1, 2 })
            Assert.Equal("/dev/null", new FileInfo($"/proc/{pid}/fd/{fd}").LinkTarget);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, new FileInfo(dir.Socket).UnixFileMode);
        StopAndExpectGone(pid, dir);
    }

    [Fact]
    public unsafe void DaemonClosesFdsItInherited()
    {
        using var dir = new PodmonProcess.RuntimeDir();
        OwnedFd[] p = Libc.Pipe();
        using var r = p[0];
        var launcher = Spawner.Spawn(new SpawnRequest
        {
            Path = PodmonProcess.BinaryPath,
            Argv = ["podmon", .. ServerArgs(dir)],
            Fds = { (0, -1), (1, -1), (2, -1), (7, p[1].Value) },
        });
        p[1].Dispose();
        Libc.SigInfo info;
        Errno.Check(Libc.waitid(Libc.P_PIDFD, launcher.Pidfd!.Value, &info, Libc.WEXITED), "waitid");
        launcher.Pidfd.Dispose();
        Assert.Equal(0, Libc.ExitCode(info));
        // EOF: the daemon no longer holds the write end it inherited as fd 7. A child another test
        // forks at the same moment may hold a copy until its exec: EOF must come, within seconds.
        Libc.SetNonBlocking(r.Value);
        Assert.True(PodmonProcess.WaitUntil(() => { byte b; return Libc.read(r.Value, &b, 1) == 0; }), "the inherited pipe never reached EOF");
        int pid = dir.ServerPid!.Value;
        Assert.False(File.Exists($"/proc/{pid}/fd/7") && new FileInfo($"/proc/{pid}/fd/7").LinkTarget!.StartsWith("pipe:"));
        StopAndExpectGone(pid, dir);
    }

    [Theory]
    [InlineData(Libc.SIGTERM)]
    [InlineData(Libc.SIGINT)]
    public void SkipForkStaysInForegroundAndExitsCleanlyOnSignal(int signal)
    {
        using var dir = new PodmonProcess.RuntimeDir();
        using var p = PodmonProcess.Start(ServerArgs(dir, "--skip-fork"));
        Assert.True(PodmonProcess.WaitUntil(() => File.Exists(dir.Socket)), "socket never appeared");
        Assert.True(PodmonProcess.WaitUntil(() => dir.ServerPid == p.Id), "pidfile does not name the foreground process");
        Assert.False(p.HasExited);
        Errno.Check(Libc.kill(p.Id, signal), "kill");
        Assert.True(p.WaitForExit(5000));
        Assert.Equal(0, p.ExitCode);
        Assert.False(File.Exists(dir.Socket));
    }

    [Fact]
    public void SkipForkFromTheEnvironment()
    {
        using var dir = new PodmonProcess.RuntimeDir();
        using var p = PodmonProcess.Start(["--runtime", "/bin/true", "--log-driver", "none"],
            new Dictionary<string, string> { ["CONMON_SKIP_FORK"] = "true", ["CONMON_RUNTIME_DIR"] = dir.Path });
        Assert.True(PodmonProcess.WaitUntil(() => dir.ServerPid is not null));
        Assert.Equal(p.Id, dir.ServerPid);
        p.Kill();
        p.WaitForExit();
    }

    /// <summary>native/early.c reads CONMON_SKIP_FORK: a value that is no boolean is a usage error, and the command line wins over a good one.</summary>
    [Fact]
    public void SkipForkVariableIsABooleanAndTheFlagWins()
    {
        using var dir = new PodmonProcess.RuntimeDir();
        var bad = PodmonProcess.Run(["--runtime", "/bin/true", "--runtime-dir", dir.Path], new Dictionary<string, string> { ["CONMON_SKIP_FORK"] = "maybe" });
        Assert.Equal(2, bad.ExitCode);
        Assert.Equal("podmon: error: invalid value 'maybe' for 'CONMON_SKIP_FORK' (possible values: true, false)\n", bad.Stderr);
        // --skip-fork=false against CONMON_SKIP_FORK=true: a daemon, so the command returns once it listens.
        var r = PodmonProcess.Run(["--runtime", "/bin/true", "--runtime-dir", dir.Path, "--log-driver", "none", "--skip-fork=false"],
            new Dictionary<string, string> { ["CONMON_SKIP_FORK"] = "true" });
        Assert.Equal(0, r.ExitCode);
        StopAndExpectGone(dir.ServerPid!.Value, dir);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RuntimeDirLongerThanSunPathWorks(bool skipFork)
    {
        using var dir = new PodmonProcess.RuntimeDir(minLength: 200);
        Assert.True(dir.Socket.Length > Libc.SunPathLength);
        Process? p = null;
        if (skipFork) p = PodmonProcess.Start(ServerArgs(dir, "--skip-fork"));
        else Assert.Equal(0, PodmonProcess.Run(ServerArgs(dir)).ExitCode);
        // The pidfile is written once the socket listens (the socket file exists from bind on).
        Assert.True(PodmonProcess.WaitUntil(() => dir.ServerPid is not null));
        int pid = dir.ServerPid!.Value;
        using (var client = UnixSocket.Connect(dir.Socket))
            Assert.Equal(pid, UnixSocket.PeerCredentials(client.Value).Pid);
        StopAndExpectGone(pid, dir);
        p?.Dispose();
    }

    [Fact]
    public void StaleSocketIsReplaced()
    {
        using var dir = new PodmonProcess.RuntimeDir();
        Directory.CreateDirectory(dir.Path);
        File.WriteAllText(dir.Socket, "stale");
        Assert.Equal(0, PodmonProcess.Run(ServerArgs(dir)).ExitCode);
        using (UnixSocket.Connect(dir.Socket)) { }
        StopAndExpectGone(dir.ServerPid!.Value, dir);
    }

    public static TheoryData<string[], string> BadInvocations => new()
    {
        { ["--bogus"], "podmon: error: unexpected argument '--bogus' (see --help)\n" },
        { ["--runtime-dir", "/tmp/x"], "podmon: error: --runtime flag not set\n" },
        { ["--runtime", "/bin/true"], "podmon: error: --runtime-dir flag not set\n" },
        { ["--runtime", "/nonexistent/runc", "--runtime-dir", "/tmp/x"], "podmon: error: --runtime '/nonexistent/runc' does not exist\n" },
        { ["--log-level", "loud"], "podmon: error: invalid value 'loud' for '--log-level' (possible values: trace, debug, info, warn, error, off)\n" },
        { ["--runtime"], "podmon: error: a value is required for '--runtime' but none was supplied\n" },
        // native/early.c checks it (before forking), not the managed parser.
        { ["--skip-fork=maybe"], "podmon: error: invalid value 'maybe' for '--skip-fork' (possible values: true, false)\n" },
    };

    [Theory]
    [MemberData(nameof(BadInvocations))]
    public void BadFlagsExitTwoWithOneLine(string[] args, string message)
    {
        foreach (bool skipFork in new[] { false, true })
        {
            var r = PodmonProcess.Run(skipFork ? [.. args, "--skip-fork"] : args);
            Assert.Equal(2, r.ExitCode);
            Assert.Equal(message, r.Stderr);
            Assert.Equal("", r.Stdout);
        }
    }

    [Fact]
    public void BindFailureIsReportedByTheLauncher()
    {
        using var dir = new PodmonProcess.RuntimeDir();
        Directory.CreateDirectory(dir.Socket); // a directory where the socket should go: unlink fails
        var r = PodmonProcess.Run(ServerArgs(dir));
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("podmon: error: unlink", r.Stderr);
        Assert.False(File.Exists(dir.Pidfile));
    }

    [Fact]
    public void VersionHelpAndPauseDoNotStartAServer()
    {
        var v = PodmonProcess.Run(["--version"]);
        Assert.Equal(0, v.ExitCode);
        // podman's probe first (stdout must start with "conmon version X.Y.Z"), then the conmon-rs lines.
        Assert.Matches(@"^conmon version 2\.1\.6\ncommit: podmon .+\nversion: \d+\.\d+\.\d+\ntag: .+\ncommit: .+\nbuild: .+\ntarget: x86_64-unknown-linux-gnu\n\.NET \d+.*\n\.NET SDK .+\n$", v.Stdout);
        var full = PodmonProcess.Run(["--version", "full"]);
        Assert.Contains("\ncargo tree: podmon v", full.Stdout);
        var json = PodmonProcess.Run(["--version-json"]);
        using var doc = System.Text.Json.JsonDocument.Parse(json.Stdout);
        Assert.False(doc.RootElement.GetProperty("verbose").GetBoolean());
        Assert.Equal("", doc.RootElement.GetProperty("cargo_tree").GetString());
        var help = PodmonProcess.Run(["--help"]);
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("--runtime-dir", help.Stdout);
        var pause = PodmonProcess.Run(["pause", "--net"]); // runs in C (native/pause.c): no pod id, a usage error
        Assert.Equal(2, pause.ExitCode);
        Assert.Equal("podmon: error: pause: --pod-id is required\n", pause.Stderr);
        var pauseHelp = PodmonProcess.Run(["pause", "--help"]);
        Assert.Equal(0, pauseHelp.ExitCode);
        Assert.Contains("pause  Pin the pod's namespaces", pauseHelp.Stdout);
    }
}
