using System.Diagnostics;
using System.Text.RegularExpressions;
using Podmon.IntegrationTests.Containers.Fixtures;

namespace Podmon.IntegrationTests.ConmonCli;

/// <summary>Runs tests/podman/e2e.sh once (podman with the published podmon as its conmon) and keeps its PASS/FAIL lines.</summary>
public sealed class PodmanE2eFixture
{
    public Dictionary<string, string> Results { get; } = new(StringComparer.Ordinal);
    public string Output { get; }

    public PodmanE2eFixture()
    {
        IntegrationHost.Require(); // a class fixture runs before the assembly's check does
        var psi = new ProcessStartInfo(Repo.Path("tests", "podman", "e2e.sh"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(PodmonProcess.BinaryPath);
        using Process p = Process.Start(psi)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(240_000)) p.Kill(true);
        Output = output + err.Result;
        foreach (string line in output.Split('\n'))
        {
            Match m = Regex.Match(line, @"^(PASS|FAIL) (\w+)(: (.*))?$");
            if (m.Success) Results[m.Groups[2].Value] = m.Groups[1].Value == "PASS" ? "" : m.Groups[4].Value;
        }
    }
}

/// <summary>`podman --conmon podmon …` end to end; every check also depends on podman not falling back to /usr/bin/conmon.</summary>
public class PodmanConmonTests(PodmanE2eFixture fx) : IClassFixture<PodmanE2eFixture>
{
    [Theory]
    [InlineData("version_probe")]
    [InlineData("run_rm_exit_code")]
    [InlineData("run_rm_output")]
    [InlineData("run_rm_stderr")]
    [InlineData("run_d")]
    [InlineData("monitor_is_podmon")]
    [InlineData("conmon_pidfile")]
    [InlineData("logs_stdout")]
    [InlineData("logs_stderr")]
    [InlineData("k8s_file_format")]
    [InlineData("exec_exit_code")]
    [InlineData("exec_output")]
    [InlineData("exec_i")]
    [InlineData("exec_t")]
    [InlineData("exec_d")]
    [InlineData("exec_i_big_byte_exact")]
    [InlineData("run_i_big_byte_exact")]
    [InlineData("run_preserve_fds")]
    [InlineData("exec_preserve_fds")]
    [InlineData("run_timeout_255")]
    [InlineData("attach_no_stdin")]
    [InlineData("wait_exit_code")]
    [InlineData("attach_stdin")]
    [InlineData("run_i")]
    [InlineData("run_t")]
    [InlineData("run_attached_every_byte")]
    [InlineData("run_passthrough")]
    [InlineData("run_passthrough_exit_code")]
    [InlineData("stop")]
    [InlineData("stopped_state")]
    [InlineData("rm")]
    [InlineData("kill_wait_137")]
    [InlineData("restart")]
    [InlineData("restart_monitor_is_podmon")]
    [InlineData("restart_running")]
    [InlineData("no_monitor_left")]
    public void Podman_check(string name)
    {
        Assert.True(fx.Results.TryGetValue(name, out string? failure), $"check {name} did not run; e2e.sh said:\n{fx.Output}");
        Assert.True(failure == "", $"{name}: {failure}\n{fx.Output}");
    }
}

/// <summary>CRI-O style: podmon started directly with a plain-pipe sync fd, like shared/harness/podman/direct-conmon.sh.</summary>
public class ConmonDirectLaunchTests : IClassFixture<RuncFixture>
{
    readonly RuncFixture _fx;

    public ConmonDirectLaunchTests(RuncFixture fx) => _fx = fx;

    sealed record Launch(PodmonProcess.Result Launcher, string Sync, string Dir, string Id, string Bundle);

    /// <summary>Starts podmon with fd 3 = a FIFO opened read-write (a pipe) and reads the first sync message.</summary>
    Launch Start(string[] command, params string[] extra) => Start(command, (_, _) => extra);

    /// <param name="preserved">files opened at fds 3, 4, … of the monitor (podman's --preserve-fds); the sync pipe comes after them.</param>
    Launch Start(string[] command, Func<string, string, string[]> extraFor, string? stdoutFile = null, string[]? preserved = null)
    {
        preserved ??= [];
        int syncFd = 3 + preserved.Length;
        string opens = string.Concat(preserved.Select((f, i) => $" {3 + i}<'{f}'"));
        string id = _fx.NewId("cm");
        string bundle = _fx.Bundle(id, command);
        string dir = Path.Combine(_fx.Root, "direct-" + id);
        Directory.CreateDirectory(dir);
        string fifo = Path.Combine(dir, "sync.fifo");
        Host.Check("/usr/bin/mkfifo", fifo);
        string[] args =
        [
            "-c", stdoutFile is null ? $"exec {syncFd}<>\"$0\"{opens}; exec \"$@\"" : $"exec {syncFd}<>\"$0\"{opens}; exec \"$@\" </dev/null >'{stdoutFile}' 2>'{stdoutFile}.err'", fifo, PodmonProcess.BinaryPath,
            "--api-version", "1", "-c", id, "-u", id, "-n", id, "-r", RuncFixture.Runc, "--runtime-arg", $"--root={_fx.StateDir}",
            "-b", bundle, "-p", Path.Combine(bundle, "pidfile"), "-P", Path.Combine(dir, "conmon.pid"),
            "-l", $"k8s-file:{Path.Combine(dir, "ctr.log")}", "--exit-dir", dir, "--socket-dir-path", Path.Combine(dir, "socks"),
            "--log-level", "info", .. extraFor(dir, id),
        ];
        // Open our end first (read-write: does not block): a monitor that reports and exits before
        // we would open a read-only end would leave nothing in the FIFO and block that open forever.
        using var syncEnd = new FileStream(fifo, FileMode.Open, FileAccess.ReadWrite);
        using var r = new StreamReader(syncEnd);
        var psi = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.Environment["_OCI_SYNCPIPE"] = syncFd.ToString();
        var sw = Stopwatch.StartNew();
        using Process p = Process.Start(psi)!;
        Task<string> o = p.StandardOutput.ReadToEndAsync(), e = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(10_000), "the launcher did not exit");
        var launcher = new PodmonProcess.Result(p.ExitCode, o.Result, e.Result, sw.Elapsed);
        string sync = "";
        if (launcher.ExitCode == 0)
        {
            Task<string?> line = r.ReadLineAsync();
            Assert.True(line.Wait(10_000), "no message on the sync pipe");
            sync = line.Result ?? "";
        }
        return new Launch(launcher, sync, dir, id, bundle);
    }

    [Fact]
    public void Direct_launch_reports_pid_then_writes_exit_file_and_log()
    {
        Launch l = Start(["sh", "-c", "echo hello from direct; echo to-stderr >&2; exit 3"]);
        Assert.Equal(0, l.Launcher.ExitCode);
        Match m = Regex.Match(l.Sync, @"^\{""data"": (\d+)\}$");
        Assert.True(m.Success, $"sync message: '{l.Sync}'");
        int monitor = int.Parse(File.ReadAllText(Path.Combine(l.Dir, "conmon.pid")));
        Assert.True(PodmonProcess.IsPodmon(monitor), "the monitor is not podmon");
        // The --socket-dir-path layout: DIR/<cuuid> -> bundle, socket bound through it.
        Assert.Equal(l.Bundle, new FileInfo(Path.Combine(l.Dir, "socks", l.Id)).LinkTarget);
        Assert.True(File.Exists(Path.Combine(l.Bundle, "attach")));
        Assert.Contains("\"created\"", _fx.State(l.Id));
        _fx.Start(l.Id);
        string exitFile = Path.Combine(l.Dir, l.Id);
        Assert.True(PodmonProcess.WaitUntil(() => File.Exists(exitFile), 10_000), "no exit file");
        Assert.Equal("3", File.ReadAllText(exitFile));
        string[] log = File.ReadAllLines(Path.Combine(l.Dir, "ctr.log"));
        Assert.Contains(log, x => Regex.IsMatch(x, @"^\S+\+00:00 stdout F hello from direct$"));
        Assert.Contains(log, x => Regex.IsMatch(x, @"^\S+\+00:00 stderr F to-stderr$"));
        Assert.True(PodmonProcess.WaitUntil(() => !PodmonProcess.IsAlive(monitor), 5000), "the monitor did not exit");
        Assert.False(File.Exists(Path.Combine(l.Bundle, "attach")), "attach socket left behind");
    }

    [Fact]
    public void Runtime_failure_is_reported_on_the_sync_pipe()
    {
        Launch l = Start(["/no/such/binary"]);
        Assert.Equal(0, l.Launcher.ExitCode);
        Assert.Matches(@"^\{""data"": -1, ""message"": "".*runc.*""\}$", l.Sync);
    }

    [Fact]
    public void Restore_runs_runtime_restore_and_reports_its_error()
    {
        // No checkpoint (and no CRIU on a test host): what matters is that `runc restore` ran with
        // conmon's arguments and that its own error text reaches the caller.
        string image = Path.Combine(_fx.Root, "no-checkpoint-" + Guid.NewGuid().ToString("N"));
        Launch l = Start(["true"], "--restore", image);
        Assert.Equal(0, l.Launcher.ExitCode);
        Assert.Matches(@"^\{""data"": -1, ""message"": ""restore container cm-\w+: runc exited with status \d+: .+""\}$", l.Sync);
        Assert.DoesNotContain("flag provided but not defined", l.Sync); // runc took conmon's restore arguments
        Assert.DoesNotContain("Incorrect Usage", l.Sync);
        Assert.DoesNotContain("\"created\"", _fx.State(l.Id));
    }

    [Fact]
    public void Unknown_option_fails_on_stderr_and_sync_pipe()
    {
        Launch l = Start(["true"], "--no-such-flag");
        Assert.Equal(1, l.Launcher.ExitCode);
        Assert.Contains("unknown option --no-such-flag", l.Launcher.Stderr);
    }

    [Fact]
    public void Exit_command_runs_after_the_exit_file_and_is_waited_for()
    {
        string marker = Path.Combine(_fx.Root, "exit-cmd-" + Guid.NewGuid().ToString("N"));
        Launch l = Start(["sh", "-c", "exit 5"], (dir, id) => ["--exit-command", "/bin/sh", "--exit-command-arg", "-c",
            "--exit-command-arg", $"sleep 0.3; cat \"$0\" > {marker}", "--exit-command-arg", Path.Combine(dir, id),
            "--exit-delay", "1", "--no-sync-log"]);
        Assert.Equal(0, l.Launcher.ExitCode);
        int monitor = int.Parse(File.ReadAllText(Path.Combine(l.Dir, "conmon.pid")));
        _fx.Start(l.Id);
        Assert.True(PodmonProcess.WaitUntil(() => !PodmonProcess.IsAlive(monitor), 10_000), "the monitor did not exit");
        // The monitor waited for the exit command (it ran after the exit file existed: cat found it).
        Assert.True(File.Exists(marker), "exit command did not finish before the monitor exited");
        Assert.Equal("5", File.ReadAllText(marker));
        Assert.Equal("5", File.ReadAllText(Path.Combine(l.Dir, l.Id)));
    }

    [Fact]
    public void Persist_dir_gets_an_exit_file_too()
    {
        Launch l = Start(["sh", "-c", "exit 4"], (dir, _) => ["--persist-dir", Path.Combine(dir, "persist")]);
        Assert.Equal(0, l.Launcher.ExitCode);
        Directory.CreateDirectory(Path.Combine(l.Dir, "persist"));
        _fx.Start(l.Id);
        Assert.True(PodmonProcess.WaitUntil(() => File.Exists(Path.Combine(l.Dir, l.Id)), 10_000), "no exit file");
        Assert.Equal("4", File.ReadAllText(Path.Combine(l.Dir, "persist", "exit")));
    }

    [Fact]
    public void Sigterm_to_the_monitor_is_forwarded_to_the_container()
    {
        // Like conmon: the container gets the SIGTERM (its trap sets the exit code), the monitor records it and leaves.
        Launch l = Start(["sh", "-c", "trap 'exit 42' TERM; sleep 1000 & wait"]);
        Assert.Equal(0, l.Launcher.ExitCode);
        int monitor = int.Parse(File.ReadAllText(Path.Combine(l.Dir, "conmon.pid")));
        _fx.Start(l.Id);
        Assert.Contains("\"running\"", _fx.State(l.Id));
        // An idle monitor keeps little of the binary's code mapped; the signal is handled all the same.
        int size = PodmonProcess.CodeMapping(monitor).SizeKb;
        Assert.True(PodmonProcess.WaitUntil(() => PodmonProcess.CodeMapping(monitor).RssKb < size / 4, 10_000), "the idle monitor kept its code mapped");
        Assert.Equal(0, global::Podmon.Sys.Libc.kill(monitor, global::Podmon.Sys.Libc.SIGTERM));
        string exitFile = Path.Combine(l.Dir, l.Id);
        Assert.True(PodmonProcess.WaitUntil(() => File.Exists(exitFile), 10_000), "no exit file after SIGTERM");
        Assert.Equal("42", File.ReadAllText(exitFile));
        Assert.True(PodmonProcess.WaitUntil(() => !PodmonProcess.IsAlive(monitor), 5000), "the monitor did not exit");
    }

    [Fact]
    public void Passthrough_hands_the_monitors_stdio_to_the_container()
    {
        string dir0 = Path.Combine(_fx.Root, "pt-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir0);
        string outFile = Path.Combine(dir0, "stdout");
        Launch l = Start(["sh", "-c", "echo straight-through; exit 6"],
            (_, _) => ["-l", "passthrough"], stdoutFile: outFile);
        Assert.Equal(0, l.Launcher.ExitCode);
        Assert.Matches(@"^\{""data"": \d+\}$", l.Sync);
        int monitor = int.Parse(File.ReadAllText(Path.Combine(l.Dir, "conmon.pid")));
        // conmon: no attach socket and no control FIFOs with passthrough; the monitor let go of the caller's stdout.
        Assert.False(File.Exists(Path.Combine(l.Bundle, "attach")), "attach socket with passthrough");
        Assert.False(File.Exists(Path.Combine(l.Bundle, "ctl")), "ctl FIFO with passthrough");
        Assert.Equal("/dev/null", new FileInfo($"/proc/{monitor}/fd/1").LinkTarget);
        _fx.Start(l.Id);
        string exitFile = Path.Combine(l.Dir, l.Id);
        Assert.True(PodmonProcess.WaitUntil(() => File.Exists(exitFile), 10_000), "no exit file");
        Assert.Equal("6", File.ReadAllText(exitFile));
        Assert.Equal("straight-through\n", File.ReadAllText(outFile));
        Assert.False(File.Exists(Path.Combine(l.Dir, "ctr.log")) && new FileInfo(Path.Combine(l.Dir, "ctr.log")).Length > 0, "passthrough output was logged");
    }

    [Fact]
    public void Stdin_through_64KiB_packets_arrives_byte_exact()
    {
        Launch l = Start(["sha256sum"], "-i");
        Assert.Equal(0, l.Launcher.ExitCode);
        using var attach = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Seqpacket, System.Net.Sockets.ProtocolType.Unspecified);
        attach.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(Path.Combine(l.Bundle, "attach")));
        attach.SendBufferSize = 256 * 1024;
        _fx.Start(l.Id);
        byte[] data = new byte[4 * 1024 * 1024 + 777];
        new Random(64).NextBytes(data);
        for (int off = 0; off < data.Length; off += 64 * 1024)
            attach.Send(data, off, Math.Min(64 * 1024, data.Length - off), System.Net.Sockets.SocketFlags.None);
        attach.Shutdown(System.Net.Sockets.SocketShutdown.Send);
        string exitFile = Path.Combine(l.Dir, l.Id);
        Assert.True(PodmonProcess.WaitUntil(() => File.Exists(exitFile), 20_000), "no exit file");
        Assert.Equal("0", File.ReadAllText(exitFile));
        string hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(data));
        Assert.Contains(File.ReadAllLines(Path.Combine(l.Dir, "ctr.log")), x => x.EndsWith($" stdout F {hash}  -", StringComparison.Ordinal));
    }

    [Fact]
    public void Preserved_fds_reach_the_container_at_the_same_numbers()
    {
        // podman --preserve-fds 2: the fds at 3 and 4 of the monitor, `--runtime-opt --preserve-fds --runtime-opt 2`.
        string dir = Path.Combine(_fx.Root, "pfd-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        string first = Path.Combine(dir, "first"), second = Path.Combine(dir, "second");
        File.WriteAllText(first, "from-fd-3\n");
        File.WriteAllText(second, "from-fd-4\n");
        Launch l = Start(["sh", "-c", "cat <&3; cat <&4"], (_, _) => ["--runtime-opt", "--preserve-fds", "--runtime-opt", "2"], preserved: [first, second]);
        Assert.Equal(0, l.Launcher.ExitCode);
        Assert.Matches(@"^\{""data"": \d+\}$", l.Sync);
        int monitor = int.Parse(File.ReadAllText(Path.Combine(l.Dir, "conmon.pid")));
        // Handed on and let go of, as podman lets go of its copies: a pipe passed this way must see EOF when the container closes it.
        foreach (string fd in Directory.GetFiles($"/proc/{monitor}/fd"))
            Assert.NotEqual(first, new FileInfo(fd).LinkTarget);
        _fx.Start(l.Id);
        string exitFile = Path.Combine(l.Dir, l.Id);
        Assert.True(PodmonProcess.WaitUntil(() => File.Exists(exitFile), 10_000), "no exit file");
        Assert.Equal("0", File.ReadAllText(exitFile));
        string[] log = File.ReadAllLines(Path.Combine(l.Dir, "ctr.log"));
        Assert.Contains(log, x => x.EndsWith(" stdout F from-fd-3", StringComparison.Ordinal));
        Assert.Contains(log, x => x.EndsWith(" stdout F from-fd-4", StringComparison.Ordinal));
    }

    [Fact]
    public void Preserve_fds_overlapping_the_sync_pipe_is_a_clear_error()
    {
        Launch l = Start(["true"], "--runtime-opt", "--preserve-fds", "--runtime-opt", "2");
        Assert.Equal(0, l.Launcher.ExitCode);
        Assert.Matches(@"^\{""data"": -1, ""message"": ""--preserve-fds 2: fd 3 is the monitor's own sync, start or attach pipe""\}$", l.Sync);
    }

    [Fact]
    public void Timeout_kills_the_whole_container_and_records_minus_one()
    {
        // conmon: on --timeout the container's process group is SIGKILLed and the exit file says -1 (podman shows 255).
        // The timeout counts from create, as conmon's does: 3 s leave room to start it on a busy machine.
        Launch l = Start(["sh", "-c", "sleep 1000 & sleep 1000; echo not-reached"], "--timeout", "3");
        Assert.Equal(0, l.Launcher.ExitCode);
        int monitor = int.Parse(File.ReadAllText(Path.Combine(l.Dir, "conmon.pid")));
        _fx.Start(l.Id);
        string exitFile = Path.Combine(l.Dir, l.Id);
        Assert.True(PodmonProcess.WaitUntil(() => File.Exists(exitFile), 10_000), "no exit file after the timeout");
        Assert.Equal("-1", File.ReadAllText(exitFile));
        Assert.True(PodmonProcess.WaitUntil(() => !PodmonProcess.IsAlive(monitor), 5000), "the monitor did not exit");
        Assert.DoesNotContain("not-reached", File.ReadAllText(Path.Combine(l.Dir, "ctr.log")));
    }

    [Fact]
    public void A_path_error_reads_as_a_sentence_not_a_resource_key()
    {
        // The static binary has no resource strings: "IO_PathNotFound_Path, /proc/…" must not reach podman.
        Launch l = Start(["true"], "--socket-dir-path", "/proc/podmon-no-such-dir/socks");
        Assert.Equal(0, l.Launcher.ExitCode);
        Assert.Matches(@"^\{""data"": -1, ""message"": ""attach socket link '/proc/podmon-no-such-dir/socks/cm-\w+': '/proc/podmon-no-such-dir': No such file or directory \(ENOENT\)""\}$", l.Sync);
    }

    [Fact]
    public void Version_probe_passes_podmans_check()
    {
        PodmonProcess.Result r = PodmonProcess.Run(["--version"]);
        Assert.Equal(0, r.ExitCode);
        Assert.Matches(@"^conmon version 2\.1\.6\ncommit: podmon ", r.Stdout);
    }
}
