using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Podmon.IntegrationTests.Containers.Fixtures;

namespace Podmon.IntegrationTests.ConmonCli;

/// <summary>
/// conmon mode as each engine drives it, next to Debian's conmon in the same test: both monitors
/// get the same command line from tests/conmon/crio_launch.py (CRI-O 1.26's pipes, environment
/// and working directory), and the bytes each writes on the sync pipe must be the same up to
/// pids. CRI-O passes no --api-version and reads "pid" / "exit_code"; podman passes
/// --api-version 1 and reads "data".
/// </summary>
public class CrioDialectTests(RuncFixture fx) : IClassFixture<RuncFixture>
{
    const string Conmon = "/usr/bin/conmon";
    public static readonly TheoryData<string> Monitors = new() { "conmon", "podmon" };

    static string MonitorPath(string monitor) => monitor == "conmon" ? Conmon : PodmonProcess.BinaryPath;

    static readonly string Launcher = Repo.Path("tests", "conmon", "crio_launch.py");

    sealed record Launched(int Status, string Sync, string Stderr);

    static Launched Launch(string mode, string cwd, string monitor, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Launcher);
        psi.ArgumentList.Add(mode);
        psi.ArgumentList.Add(cwd);
        psi.ArgumentList.Add(MonitorPath(monitor));
        foreach (string a in args) psi.ArgumentList.Add(a);
        using Process p = Process.Start(psi)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(90_000), "crio_launch.py did not finish");
        Assert.True(p.ExitCode == 0, $"crio_launch.py failed: {output}{err.Result}");
        using JsonDocument d = JsonDocument.Parse(output);
        JsonElement r = d.RootElement;
        return new Launched(r.GetProperty("status").GetInt32(), r.GetProperty("sync").GetString()!, r.GetProperty("stderr").GetString()!);
    }

    /// <summary>The pid (the first message) differs between runs; nothing else may.</summary>
    static string Normalized(string sync) => new Regex(@"(""(?:pid|data)"": )[1-9]\d*").Replace(sync, "${1}N", 1);

    sealed record Ctr(string Id, string Bundle, string Dir, string Socks);

    /// <summary>CRI-O's create command line (runtime_oci.go CreateContainer), in the bundle as its working directory.</summary>
    (Ctr Ctr, Launched Launched) Create(string monitor, string[] command, bool terminal = false, bool podman = false)
    {
        string id = fx.NewId("cd");
        string bundle = fx.Bundle(id, command, terminal);
        string dir = Path.Combine(fx.Root, "crio-" + id);
        string socks = Path.Combine(dir, "socks");
        Directory.CreateDirectory(Path.Combine(dir, "exits"));
        Directory.CreateDirectory(socks); // CRI-O makes its attach socket dir (conmon does not)
        List<string> args =
        [
            "-b", bundle, "-c", id, "--exit-dir", Path.Combine(dir, "exits"), "-l", Path.Combine(dir, "ctr.log"),
            "--log-level", "debug", "-n", "k8s_" + id, "-P", Path.Combine(dir, "conmon.pid"), "-p", Path.Combine(bundle, "pidfile"),
            "--persist-dir", dir, "-r", RuncFixture.Runc, "--runtime-arg", $"--root={fx.StateDir}",
            "--socket-dir-path", socks, "--syslog", "-u", id,
        ];
        if (terminal) args.Add("-t");
        if (podman) args.InsertRange(0, ["--api-version", "1"]);
        return (new Ctr(id, bundle, dir, socks), Launch("create", bundle, monitor, args));
    }

    /// <summary>CRI-O's exec-sync command line (runtime_oci.go ExecSyncContainer): no -b, no -u, --sync, run from CRI-O's own working directory.</summary>
    (Launched Launched, string Log, string Cwd) ExecSync(string monitor, Ctr c, string[] command, int timeout = 0, string[]? extra = null, bool sync = true)
    {
        string tag = Guid.NewGuid().ToString("N")[..8];
        string cwd = Path.Combine(c.Dir, "crio-cwd-" + tag);
        Directory.CreateDirectory(cwd);
        string spec = Path.Combine(c.Dir, $"exec-process-{tag}.json");
        File.WriteAllText(spec, JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["args"] = command, ["cwd"] = "/", ["env"] = new[] { "PATH=/bin" }, ["terminal"] = false,
        }));
        string log = Path.Combine(c.Dir, $"crio-log-{tag}");
        File.WriteAllText(log, "");
        List<string> args =
        [
            "-c", c.Id, "-n", "k8s_" + c.Id, "-r", RuncFixture.Runc, "-p", Path.Combine(c.Dir, $"pidfile-{tag}"), "-e", "-l", log,
            "--socket-dir-path", c.Socks, "--log-level", "debug", "--log-global-size-max", "16777216",
        ];
        if (sync) args.Add("--sync");
        if (timeout > 0) args.AddRange(["-T", timeout.ToString()]);
        args.AddRange(extra ?? []);
        args.AddRange(["--exec-process-spec", spec, "--runtime-arg", $"--root={fx.StateDir}"]);
        return (Launch("exec", cwd, monitor, args), log, cwd);
    }

    static void WaitForExitFile(Ctr c)
    {
        string exit = Path.Combine(c.Dir, "exits", c.Id);
        Assert.True(PodmonProcess.WaitUntil(() => File.Exists(exit), 15_000), "no exit file");
    }

    [Fact]
    public void Create_reports_the_pid_under_conmons_key_for_each_engine()
    {
        foreach (bool podman in new[] { false, true })
        {
            var results = new Dictionary<string, string>();
            foreach (string monitor in new[] { "conmon", "podmon" })
            {
                (Ctr c, Launched l) = Create(monitor, ["sleep", "1000"], podman: podman);
                Assert.True(l.Status == 0, $"{monitor}: launcher exit {l.Status}: {l.Stderr}");
                results[monitor] = l.Sync;
                Host.Run(RuncFixture.Runc, "--root", fx.StateDir, "delete", "-f", c.Id);
            }
            string expected = podman ? "{\"data\": N}\n" : "{\"pid\": N}\n";
            Assert.Equal(expected, Normalized(results["conmon"])); // the test's own premise: what conmon writes
            Assert.Equal(expected, Normalized(results["podmon"]));
        }
    }

    [Theory]
    [MemberData(nameof(Monitors))]
    public void Create_failure_is_pid_minus_one_with_the_runtimes_error(string monitor)
    {
        (_, Launched l) = Create(monitor, ["/no/such/binary"]);
        Assert.Matches(@"^\{""pid"": -1, ""message"": "".*no such file or directory.*""\}\n$", l.Sync);
    }

    [Theory]
    [MemberData(nameof(Monitors))]
    public void Exec_sync_sends_only_the_exit_code_and_leaves_the_containers_endpoints_alone(string monitor)
    {
        (Ctr c, Launched created) = Create(monitor, ["sleep", "1000"]);
        Assert.True("{\"pid\": N}\n" == Normalized(created.Sync), $"{created.Sync} {created.Stderr}");
        fx.Start(c.Id);
        string link = Path.Combine(c.Socks, c.Id);
        Assert.Equal(c.Bundle, new FileInfo(link).LinkTarget);
        string[] bundleBefore = [.. Directory.GetFileSystemEntries(c.Bundle).Order()];

        (Launched l, string log, string cwd) = ExecSync(monitor, c, ["sh", "-c", "echo out; echo err >&2; exit 3"]);
        Assert.Equal("{\"exit_code\": 3}\n", l.Sync);
        // --sync: the process CRI-O started is the monitor (a launcher would have exited 0).
        Assert.Equal(3, l.Status);
        string[] lines = File.ReadAllLines(log);
        Assert.Contains(lines, x => Regex.IsMatch(x, @"^\S+ stdout F out$"));
        Assert.Contains(lines, x => Regex.IsMatch(x, @"^\S+ stderr F err$"));
        // Nothing written to the working directory; the container's link, socket and FIFOs as they were.
        Assert.Empty(Directory.GetFileSystemEntries(cwd));
        Assert.Equal(c.Bundle, new FileInfo(link).LinkTarget);
        Assert.Equal(bundleBefore, Directory.GetFileSystemEntries(c.Bundle).Order());
        using (var attach = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified))
            attach.Connect(new UnixDomainSocketEndPoint(Path.Combine(link, "attach")));
        Host.Run(RuncFixture.Runc, "--root", fx.StateDir, "delete", "-f", c.Id);
    }

    [Theory]
    [MemberData(nameof(Monitors))]
    public void Exec_sync_timeout_is_minus_one_with_conmons_message_and_leaves_nothing_running(string monitor)
    {
        (Ctr c, _) = Create(monitor, ["sleep", "1000"]);
        fx.Start(c.Id);
        (Launched l, _, _) = ExecSync(monitor, c, ["sh", "-c", "sleep 1000 & sleep 999"], timeout: 1);
        Assert.Equal("{\"exit_code\": -1, \"message\": \"command timed out\"}\n", l.Sync);
        Assert.Equal(255, l.Status);
        string ps = Host.Check(RuncFixture.Runc, "--root", fx.StateDir, "ps", c.Id);
        Assert.DoesNotContain("sleep 999", ps);
        Assert.Single(Regex.Matches(ps, "sleep 1000")); // the container's own, not the exec's background one
        Host.Run(RuncFixture.Runc, "--root", fx.StateDir, "delete", "-f", c.Id);
    }

    /// <summary>
    /// CRI-O's --log-global-size-max (16 MiB for exec-sync): the k8s-file log stops once its
    /// records come to that many bytes, the line that reaches it included. 2000 lines of 99
    /// bytes would be 290 kB of 145-byte records.
    /// </summary>
    [Theory]
    [MemberData(nameof(Monitors))]
    public void Exec_sync_log_stops_at_the_global_size_max(string monitor)
    {
        (Ctr c, _) = Create(monitor, ["sleep", "1000"]);
        fx.Start(c.Id);
        string line = new('x', 99);
        (Launched l, string log, _) = ExecSync(monitor, c, ["sh", "-c", $"i=0; while [ $i -lt 2000 ]; do echo {line}; i=$((i+1)); done"],
            extra: ["--log-global-size-max", "10000"]); // after CRI-O's own 16 MiB: the last one counts
        Assert.Equal(0, l.Status);
        Assert.InRange(new FileInfo(log).Length, 10_000, 10_000 + 145 - 1);
        Host.Run(RuncFixture.Runc, "--root", fx.StateDir, "delete", "-f", c.Id);
    }

    [Fact]
    public void Podman_exec_reports_the_pid_then_the_exit_code_as_data()
    {
        var results = new Dictionary<string, string>();
        foreach (string monitor in new[] { "conmon", "podmon" })
        {
            (Ctr c, _) = Create(monitor, ["sleep", "1000"], podman: true);
            fx.Start(c.Id);
            // podman's exec monitor: --api-version 1, its own bundle dir and session id, no --sync (it forks).
            string session = Path.Combine(c.Dir, "exec-session");
            Directory.CreateDirectory(session);
            (Launched l, _, _) = ExecSync(monitor, c, ["sh", "-c", "exit 4"],
                extra: ["--api-version", "1", "-u", "session1", "-b", session, "--exit-dir", Path.Combine(c.Dir, "exits")], sync: false);
            results[monitor] = l.Sync;
            Host.Run(RuncFixture.Runc, "--root", fx.StateDir, "delete", "-f", c.Id);
        }
        Assert.Equal("{\"data\": N}\n{\"data\": 4}\n", Normalized(results["conmon"]));
        Assert.Equal("{\"data\": N}\n{\"data\": 4}\n", Normalized(results["podmon"]));
    }

    [Theory]
    [MemberData(nameof(Monitors))]
    public void Attach_input_reaches_a_terminal_container_started_with_t_alone(string monitor)
    {
        // CRI-O passes -t and never -i for a tty container; conmon still forwards what an attach client types.
        (Ctr c, Launched l) = Create(monitor, ["sh", "-c", "read l; echo got:$l"], terminal: true);
        Assert.Equal("{\"pid\": N}\n", Normalized(l.Sync));
        using var attach = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
        attach.Connect(new UnixDomainSocketEndPoint(Path.Combine(c.Socks, c.Id, "attach")));
        fx.Start(c.Id);
        attach.Send("hello\n"u8);
        WaitForExitFile(c);
        Assert.Equal("0", File.ReadAllText(Path.Combine(c.Dir, "exits", c.Id)));
        Assert.Contains("got:hello", File.ReadAllText(Path.Combine(c.Dir, "ctr.log")));
    }
}
