using Podmon.IntegrationTests.Rpc;
using System.Diagnostics;
using Podmon.Sys;
using Podmon.IntegrationTests.Containers.Fixtures;
using Xunit.Abstractions;

namespace Podmon.IntegrationTests.Containers;

/// <summary>
/// SIGKILL of the server while createContainer is in flight, at moments spread from before the
/// runtime starts to after the answer: nothing of the container may survive (the pod watchdog
/// learns of each create before runc starts and undoes it). Checked independently of the
/// watchdog's own means: no process left whose root is the bundle's rootfs (the container's
/// `runc init` or its command), none in the container's cgroup, and no `runc create` of it.
/// </summary>
public class ServerKilledMidCreateTests(RuncFixture fx, ITestOutputHelper output) : IClassFixture<RuncFixture>
{
    const int Trials = 24;

    RpcTestServer Server() =>
        new(new PodmonProcess.RuntimeDir(), RuncFixture.Runc, "--runtime-root", fx.StateDir, "--cgroup-manager", "cgroupfs");

    /// <summary>Where the kill hit: runc not started yet (nothing made), runc create in flight, runc exited but the answer not sent, answered.</summary>
    enum Moment { BeforeRuntime, DuringRuntime, RuntimeExitedUnanswered, Answered }

    [Fact]
    public void NoContainerOutlivesAServerKilledAtAnyMomentOfCreate()
    {
        double createMs = CalibrateCreateMs();
        var counts = new Dictionary<Moment, int>();
        var failures = new List<string>();
        double firstAnsweredMs = double.MaxValue;
        void Run(int trial, double delayMs)
        {
            bool terminal = trial % 3 == 2; // the runtime then also talks to podmon's console socket
            (Moment moment, string? orphan) = Trial(delayMs, terminal);
            counts[moment] = counts.GetValueOrDefault(moment) + 1;
            if (moment == Moment.Answered) firstAnsweredMs = Math.Min(firstAnsweredMs, delayMs);
            output.WriteLine($"trial {trial}{(terminal ? " (terminal)" : "")}: killed after {delayMs:F0} ms, {moment}{(orphan is null ? "" : ": " + orphan)}");
            if (orphan is not null) failures.Add($"trial {trial} ({moment}, {delayMs:F0} ms): {orphan}");
        }
        // From 0 to 1.3 times a create's duration: before, during and after runc create.
        for (int trial = 0; trial < Trials; trial++) Run(trial, createMs * 1.3 * trial / (Trials - 1));
        // On a busy machine the calibration can overshoot the trials' creates (every kill then
        // came after the answer): sample again below the earliest kill that found the answer sent.
        if (counts.GetValueOrDefault(Moment.DuringRuntime) < 3 && firstAnsweredMs < double.MaxValue)
            for (int trial = 0; trial < Trials; trial++) Run(Trials + trial, firstAnsweredMs * trial / (Trials - 1));
        output.WriteLine($"create takes {createMs:F0} ms; killed: " + string.Join(", ", counts.Select(kv => $"{kv.Key} {kv.Value}")));
        Assert.True(failures.Count == 0, "containers outlived their SIGKILLed server:\n" + string.Join('\n', failures));
        // The kills must really have hit runc create in flight, or this test proves nothing.
        Assert.True(counts.GetValueOrDefault(Moment.DuringRuntime) >= 3,
            $"only {counts.GetValueOrDefault(Moment.DuringRuntime)} of {Trials} kills hit runc create in flight");
    }

    double CalibrateCreateMs()
    {
        using var s = Server();
        var times = new List<double>();
        for (int i = 0; i < 3; i++)
        {
            string id = fx.NewId("cal");
            string bundle = fx.Bundle(id, ["sleep", "1000"]);
            var sw = Stopwatch.StartNew();
            var r = ConmonRpc.Run(s.Socket, ["create", "--id", id, "--bundle", bundle]);
            times.Add(sw.Elapsed.TotalMilliseconds);
            Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
            Host.Run(RuncFixture.Runc, "--root", fx.StateDir, "delete", "-f", id);
        }
        return times.Order().ElementAt(1);
    }

    (Moment, string? Orphan) Trial(double delayMs, bool terminal)
    {
        string id = fx.NewId("mid");
        string bundle = fx.Bundle(id, ["sleep", "1000"], terminal);
        var s = Server();
        try
        {
            using Process client = ConmonRpc.Start("conmon-rpc",
                [s.Socket, "create", "--id", id, "--bundle", bundle, .. (terminal ? new[] { "--terminal" } : [])]);
            Task<string> answer = client.StandardOutput.ReadToEndAsync();
            _ = client.StandardError.ReadToEndAsync();
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed.TotalMilliseconds < delayMs) Thread.SpinWait(1000);
            Errno.Check(Libc.kill(s.Pid, Libc.SIGKILL), "kill");

            bool runtimeInFlight = RuncCreatePids(id).Count > 0;
            bool made = Directory.Exists(Path.Combine(fx.StateDir, id)) || Directory.Exists(CgroupDir(id));
            Assert.True(client.WaitForExit(15_000), "conmon-rpc did not return after the server died");
            bool answered = client.ExitCode == 0 && answer.Result.Contains("containerPid");
            Moment moment = answered ? Moment.Answered
                : runtimeInFlight ? Moment.DuringRuntime
                : made ? Moment.RuntimeExitedUnanswered : Moment.BeforeRuntime;

            string? orphan = null;
            bool clean = PodmonProcess.WaitUntil(() => (orphan = Orphan(id)) is null, 15_000);
            return (moment, clean ? null : orphan);
        }
        finally
        {
            s.Dispose();
            Host.Run(RuncFixture.Runc, "--root", fx.StateDir, "delete", "-f", id);
        }
    }

    /// <summary>
    /// A runtime that is still creating when the server dies is left to finish, then the create is
    /// undone with `runtime <global flags> delete --force ID`, and whatever holds the container's
    /// exec fifo (a `runc init` waiting to be started) is killed.
    /// </summary>
    [Fact]
    public void ARuntimeStillCreatingIsLeftToFinishThenTheCreateIsUndone()
    {
        using var rt = new FakeRuntime(fx.Root, hang: false);
        var (id, holder) = KillDuringFakeCreate(rt);
        Assert.True(PodmonProcess.WaitUntil(() => rt.Calls.Contains(" delete "), 15_000), $"no delete: {rt.Calls}");
        Assert.Equal([$"--root={rt.StateDir} create", "created", $"--root={rt.StateDir} delete --force {id}"],
            rt.Calls.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(Shorten).ToArray());
        Assert.True(PodmonProcess.WaitUntil(() => !Host.IsAlive(holder), 5_000), "the exec fifo's holder survived");
    }

    /// <summary>A runtime that never finishes is killed after a grace period, then the create is undone all the same.</summary>
    [Fact]
    public void AHungRuntimeIsKilledThenTheCreateIsUndone()
    {
        using var rt = new FakeRuntime(fx.Root, hang: true);
        var (id, holder) = KillDuringFakeCreate(rt);
        int runtimePid = rt.RuntimePid;
        Assert.True(PodmonProcess.WaitUntil(() => rt.Calls.Contains(" delete "), 20_000), $"no delete: {rt.Calls}");
        Assert.False(Host.IsAlive(runtimePid), "the hung runtime survived");
        Assert.Equal([$"--root={rt.StateDir} create", $"--root={rt.StateDir} delete --force {id}"],
            rt.Calls.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(Shorten).ToArray());
        Assert.True(PodmonProcess.WaitUntil(() => !Host.IsAlive(holder), 5_000), "the exec fifo's holder survived");
    }

    /// <summary>"--root=R create --bundle … ID" → "--root=R create".</summary>
    static string Shorten(string call) => call.Contains(" create ") ? call[..(call.IndexOf(" create ") + 7)] : call;

    (string Id, int Holder) KillDuringFakeCreate(FakeRuntime rt)
    {
        string id = fx.NewId("fake");
        string bundle = Path.Combine(rt.Dir, "bundle");
        Directory.CreateDirectory(bundle);
        var s = new RpcTestServer(new PodmonProcess.RuntimeDir(), rt.Path, "--runtime-root", rt.StateDir, "--cgroup-manager", "cgroupfs");
        try
        {
            using Process client = ConmonRpc.Start("conmon-rpc", [s.Socket, "create", "--id", id, "--bundle", bundle]);
            _ = client.StandardOutput.ReadToEndAsync();
            _ = client.StandardError.ReadToEndAsync();
            Assert.True(PodmonProcess.WaitUntil(() => File.Exists(rt.HolderFile), 15_000), "the runtime never started creating");
            Errno.Check(Libc.kill(s.Pid, Libc.SIGKILL), "kill");
            Assert.True(client.WaitForExit(15_000), "conmon-rpc did not return after the server died");
            return (id, int.Parse(File.ReadAllText(rt.HolderFile)));
        }
        finally { s.Dispose(); }
    }

    /// <summary>
    /// A shell script in the runtime's place: `create` makes `ROOT/ID/exec.fifo`, starts a process
    /// holding it (as a created container's `runc init` does), then takes a second (or forever)
    /// before it exits; every call is logged.
    /// </summary>
    sealed class FakeRuntime : IDisposable
    {
        public string Dir { get; }
        public string Path => System.IO.Path.Combine(Dir, "runtime");
        public string StateDir => System.IO.Path.Combine(Dir, "state");
        public string HolderFile => System.IO.Path.Combine(Dir, "holder");
        string CallsFile => System.IO.Path.Combine(Dir, "calls");
        public string Calls => File.Exists(CallsFile) ? File.ReadAllText(CallsFile) : "";
        public int RuntimePid => int.Parse(File.ReadAllText(System.IO.Path.Combine(Dir, "runtime.pid")));

        public FakeRuntime(string root, bool hang)
        {
            Dir = System.IO.Path.Combine(root, $"fake-{Guid.NewGuid():N}");
            Directory.CreateDirectory(StateDir);
            File.WriteAllText(Path, $$"""
                #!/bin/sh
                echo "$*" >> {{CallsFile}}
                case " $* " in *" create "*) ;; *) exit 0 ;; esac
                echo $$ > {{Dir}}/runtime.pid
                for id; do :; done
                mkdir -p {{StateDir}}/$id && : > {{StateDir}}/$id/exec.fifo
                sleep 1000 5<{{StateDir}}/$id/exec.fifo >/dev/null 2>&1 &
                echo $! > {{HolderFile}}.tmp && mv {{HolderFile}}.tmp {{HolderFile}}
                {{(hang ? "exec sleep 1000" : "sleep 1")}}
                echo created >> {{CallsFile}}
                """);
            File.SetUnixFileMode(Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        public void Dispose()
        {
            try { Directory.Delete(Dir, true); } catch (IOException) { }
        }
    }

    string CgroupDir(string id) => $"/sys/fs/cgroup/pids/{fx.CgroupParent}/{id}";

    /// <summary>What is left of container <paramref name="id"/>, or null when nothing is.</summary>
    string? Orphan(string id)
    {
        List<int> runc = RuncCreatePids(id);
        if (runc.Count > 0) return $"runc create still running (pid {runc[0]})";
        string procs = Path.Combine(CgroupDir(id), "cgroup.procs");
        try
        {
            string inCgroup = File.ReadAllText(procs).Trim();
            if (inCgroup.Length > 0) return $"processes in the container's cgroup: {inCgroup.Replace('\n', ' ')}";
        }
        catch (IOException) { } // no cgroup: nothing in it
        foreach (int pid in Pids())
        {
            string? root = ReadLink($"/proc/{pid}/root");
            if (root == fx.Rootfs && Host.IsAlive(pid)) return $"pid {pid} ({Cmdline(pid)}) runs in the container's rootfs";
        }
        string state = fx.State(id);
        if (state.Contains("\"status\": \"created\"") || state.Contains("\"status\": \"running\""))
            return $"runc still has the container: {state}";
        return null;
    }

    static List<int> RuncCreatePids(string id) =>
        Pids().Where(pid => Cmdline(pid) is { } c && c.Contains(" create ") && c.EndsWith(" " + id) && Host.IsAlive(pid)).ToList();

    static IEnumerable<int> Pids()
    {
        foreach (string d in Directory.EnumerateDirectories("/proc"))
            if (int.TryParse(Path.GetFileName(d), out int pid)) yield return pid;
    }

    static string? Cmdline(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').TrimEnd(); }
        catch (IOException) { return null; }
    }

    static string? ReadLink(string path)
    {
        try { return new FileInfo(path).LinkTarget; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }
}
