using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using Podmon.IntegrationTests.Containers.Fixtures;

namespace Podmon.IntegrationTests.ConmonCli;

/// <summary>
/// conmon mode launched the way podman and CRI-O do it: a start pipe, the launcher moved into the
/// monitors' cgroup, then the start byte. The monitor starts its runtime before the move
/// (native/early.c), so these check the one promise that matters: nothing the monitor does or
/// runs happens outside the engine's cgroup, also when it cannot follow the launcher there.
/// </summary>
public class ConmonEarlyStartTests : IClassFixture<RuncFixture>
{
    readonly RuncFixture _fx;

    public ConmonEarlyStartTests(RuncFixture fx) => _fx = fx;

    /// <summary>A fresh memory cgroup (v1 memory hierarchy, else the v2 unified one) standing for libpod_parent/conmon.</summary>
    sealed class TestCgroup : IDisposable
    {
        public string Dir { get; }
        public string Mount { get; }
        /// <summary>This cgroup's line in /proc/PID/cgroup.</summary>
        public string Line { get; }

        public TestCgroup()
        {
            bool v1 = File.Exists("/sys/fs/cgroup/memory/memory.usage_in_bytes");
            Mount = v1 ? "/sys/fs/cgroup/memory" : "/sys/fs/cgroup";
            string name = "podmon-early-" + Guid.NewGuid().ToString("N")[..8];
            Dir = Path.Combine(Mount, name);
            Directory.CreateDirectory(Dir);
            Line = v1 ? $"memory:/{name}" : $"0::/{name}";
        }

        public void Add(int pid) => File.WriteAllText(Path.Combine(Dir, "cgroup.procs"), pid.ToString());

        public bool Holds(int pid) => File.ReadAllLines($"/proc/{pid}/cgroup").Any(l => l.EndsWith(Line, StringComparison.Ordinal) && (Line[0] == '0' ? l.StartsWith("0::") : Regex.IsMatch(l, @"^\d+:memory:")));

        public void Dispose()
        {
            // Whatever is left (a monitor of a failed test) goes back to the root before the rmdir.
            foreach (string pid in File.ReadAllLines(Path.Combine(Dir, "cgroup.procs")))
                try { File.WriteAllText(Path.Combine(Mount, "cgroup.procs"), pid); } catch (IOException) { }
            PodmonProcess.WaitUntil(() => { try { Directory.Delete(Dir); return true; } catch (IOException) { return false; } }, 5000);
        }
    }

    sealed record Launch(Process Launcher, StreamWriter Start, StreamReader Sync, string Dir, string Id, string ExitDump, FileStream[] Fifos);

    /// <summary>Starts podmon (sync pipe fd 3, start pipe fd 4, _OCI_STARTPIPE=4) and returns while the launcher waits for the start byte; <paramref name="prefix"/> runs before podmon in the launcher's shell, in a mount namespace of its own if <paramref name="ownMountNs"/>.</summary>
    Launch Begin(string prefix = "", bool ownMountNs = false, IDictionary<string, string>? env = null)
    {
        string id = _fx.NewId("early");
        string bundle = _fx.Bundle(id, ["true"]);
        string dir = Path.Combine(_fx.Root, "early-" + id);
        Directory.CreateDirectory(dir);
        string sync = Path.Combine(dir, "sync.fifo"), start = Path.Combine(dir, "start.fifo"), dump = Path.Combine(dir, "exit-dump");
        Host.Check("/usr/bin/mkfifo", sync, start);
        // Our ends first (read-write: does not block).
        var syncEnd = new FileStream(sync, FileMode.Open, FileAccess.ReadWrite);
        var startEnd = new FileStream(start, FileMode.Open, FileAccess.ReadWrite);
        var psi = new ProcessStartInfo(ownMountNs ? "/usr/bin/unshare" : "/bin/sh") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        if (ownMountNs) foreach (string a in (string[])["-m", "/bin/sh"]) psi.ArgumentList.Add(a);
        foreach (string a in (string[])["-c", prefix + "exec 3<>\"$0\" 4<>\"$1\"; shift; exec \"$@\"", sync, start, PodmonProcess.BinaryPath,
            "--api-version", "1", "-c", id, "-u", id, "-n", id, "-r", RuncFixture.Runc, "--runtime-arg", $"--root={_fx.StateDir}",
            "-b", bundle, "-p", Path.Combine(bundle, "pidfile"), "-P", Path.Combine(dir, "conmon.pid"),
            "-l", $"k8s-file:{Path.Combine(dir, "ctr.log")}", "--exit-dir", dir, "--socket-dir-path", Path.Combine(dir, "socks"),
            // The exit command shows where the monitor's children run and what they inherit.
            "--exit-command", "/bin/sh", "--exit-command-arg", "-c", "--exit-command-arg", $"cat /proc/self/cgroup > {dump}.tmp; env >> {dump}.tmp; mv {dump}.tmp {dump}"])
            psi.ArgumentList.Add(a);
        psi.Environment["_OCI_SYNCPIPE"] = "3";
        psi.Environment["_OCI_STARTPIPE"] = "4";
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        Process p = Process.Start(psi)!;
        return new Launch(p, new StreamWriter(startEnd) { AutoFlush = true }, new StreamReader(syncEnd), dir, id, dump, [syncEnd, startEnd]);
    }

    /// <summary>The start byte; then the launcher's exit status, its stderr and the pid reported on the sync pipe.</summary>
    static (int Code, string Stderr, int Pid) Go(Launch l)
    {
        l.Start.Write('0');
        Task<string> err = l.Launcher.StandardError.ReadToEndAsync();
        Assert.True(l.Launcher.WaitForExit(10_000), "the launcher did not exit");
        Task<string?> line = l.Sync.ReadLineAsync();
        Assert.True(line.Wait(10_000), "no message on the sync pipe");
        Match m = Regex.Match(line.Result ?? "", @"^\{""data"": (\d+)\}$");
        Assert.True(m.Success, $"sync message: '{line.Result}', stderr: {err.Result}");
        return (l.Launcher.ExitCode, err.Result, int.Parse(m.Groups[1].Value));
    }

    string FinishAndDump(Launch l)
    {
        _fx.Start(l.Id);
        Assert.True(PodmonProcess.WaitUntil(() => File.Exists(l.ExitDump), 10_000), "the exit command did not run");
        foreach (var f in l.Fifos) f.Dispose();
        return File.ReadAllText(l.ExitDump);
    }

    /// <summary>The launcher's early-forked daemon once its runtime runs (2 threads), or 0 after 10 s.</summary>
    static int EarlyDaemon(Launch l)
    {
        string children = $"/proc/{l.Launcher.Id}/task/{l.Launcher.Id}/children";
        int daemon = 0;
        return PodmonProcess.WaitUntil(() => int.TryParse(File.ReadAllText(children).Trim(), out daemon) &&
            PodmonProcess.Status(daemon)["Threads"] == "2", 10_000) ? daemon : 0;
    }

    static int Daemon(Launch l) => int.Parse(File.ReadAllText(Path.Combine(l.Dir, "conmon.pid")));

    [Fact]
    public void Monitor_started_before_the_move_follows_the_launcher_into_its_cgroup()
    {
        using var cg = new TestCgroup();
        Launch l = Begin();
        // The daemon is forked and starts its runtime while the launcher waits for the start byte…
        int daemon = EarlyDaemon(l);
        Assert.True(daemon > 0, "no early-started daemon");
        // …but does nothing the engine could see before it is in the cgroup.
        Assert.False(File.Exists(Path.Combine(l.Dir, "conmon.pid")), "pidfile written before the start byte");
        Assert.False(cg.Holds(daemon));
        cg.Add(l.Launcher.Id); // what podman does between starting conmon and the start byte
        var (code, stderr, _) = Go(l);
        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        Assert.Equal(daemon, Daemon(l));
        Assert.True(cg.Holds(daemon), "the monitor is not in the engine's cgroup");
        string dump = FinishAndDump(l);
        Assert.Contains(cg.Line, dump); // the monitor's children run there too
        Assert.DoesNotContain("DOTNET_GC", dump); // conmon mode's GC settings (native/early.c) stay in the monitor
    }

    [Fact]
    public void Monitor_that_cannot_follow_the_launcher_is_started_again_inside_the_cgroup()
    {
        using var cg = new TestCgroup();
        // The launcher's mount namespace lacks the hierarchy, so it cannot move the daemon.
        Launch l = Begin($"umount -l {cg.Mount} || exit 99; ", ownMountNs: true);
        // Only once the daemon exists (forked before the move, as podman's timing has it): a daemon
        // forked after the launcher joined would inherit the cgroup and need no move at all.
        Assert.True(EarlyDaemon(l) > 0, "no early-started daemon");
        cg.Add(l.Launcher.Id);
        var (code, stderr, _) = Go(l);
        Assert.Equal(0, code);
        Assert.Contains("podmon: warning: early start: cgroup", stderr);
        Assert.Contains("hierarchy not mounted here; starting the monitor after the start byte", stderr);
        Assert.True(cg.Holds(Daemon(l)), "the fallback monitor is not in the engine's cgroup");
        Assert.Contains(cg.Line, FinishAndDump(l));
    }

    [DllImport("libpodmonnative.so", EntryPoint = "pm_cgroup_procs_path")]
    static extern int ProcsPath(byte[] controllers, byte[] path, byte[] mountinfo, byte[] output, nuint size);

    static string? Resolve(string controllers, string path, string mountinfo)
    {
        static byte[] Z(string s) => Encoding.UTF8.GetBytes(s + "\0");
        byte[] out_ = new byte[512];
        if (ProcsPath(Z(controllers), Z(path), Z(mountinfo), out_, (nuint)out_.Length) < 0) return null;
        return Encoding.UTF8.GetString(out_, 0, Array.IndexOf(out_, (byte)0));
    }

    const string Hybrid = """
        25 30 0:23 / /sys rw,nosuid shared:7 - sysfs sysfs rw
        26 25 0:24 / /sys/fs/cgroup ro,nosuid shared:8 - tmpfs tmpfs ro,mode=755
        27 26 0:25 / /sys/fs/cgroup/unified rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate
        28 26 0:26 / /sys/fs/cgroup/systemd rw,nosuid shared:10 - cgroup cgroup rw,xattr,name=systemd
        31 26 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:13 - cgroup cgroup rw,cpu,cpuacct
        33 26 0:31 / /sys/fs/cgroup/memory rw,nosuid shared:15 - cgroup cgroup rw,memory
        40 26 0:40 /kubepods/pod1 /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids
        """;

    [Theory]
    [InlineData("memory", "/libpod_parent/conmon", "/sys/fs/cgroup/memory/libpod_parent/conmon/cgroup.procs")]
    [InlineData("cpu,cpuacct", "/a", "/sys/fs/cgroup/cpu,cpuacct/a/cgroup.procs")]
    [InlineData("name=systemd", "/user.slice", "/sys/fs/cgroup/systemd/user.slice/cgroup.procs")]
    [InlineData("", "/", "/sys/fs/cgroup/unified/cgroup.procs")]
    [InlineData("pids", "/kubepods/pod1/ctr", "/sys/fs/cgroup/pids/ctr/cgroup.procs")]
    [InlineData("pids", "/elsewhere", null)]   // outside the mount's root
    [InlineData("pids", "/kubepods/pod10", null)]
    [InlineData("blkio", "/", null)]           // not mounted
    [InlineData("cpu", "/b", "/sys/fs/cgroup/cpu,cpuacct/b/cgroup.procs")]
    public void Cgroup_procs_path_comes_from_the_hierarchys_mount(string controllers, string path, string? expected) =>
        Assert.Equal(expected, Resolve(controllers, path, Hybrid));
}
