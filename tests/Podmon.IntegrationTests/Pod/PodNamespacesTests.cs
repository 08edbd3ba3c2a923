using System.Text.Json;
using System.Text.Json.Nodes;
using Podmon.Sys;
using Podmon.IntegrationTests.Containers.Fixtures;
using Podmon.IntegrationTests.Rpc;
using Xunit.Abstractions;

namespace Podmon.IntegrationTests.Pod;

/// <summary>
/// createNamespaces against the published binary and the reference client: real namespaces
/// (checked through /proc/PID/ns, the pins' inodes and nsenter), a real runc container in the
/// pinned network namespace, a user namespace with its maps, and the teardown when the server is
/// stopped (SIGTERM, SIGINT) or SIGKILLed (through the pod watchdog): no mount, no file, no process left.
/// </summary>
public class PodNamespacesTests(RuncFixture fx, ITestOutputHelper output) : IClassFixture<RuncFixture>
{
    static readonly string[] Kinds = ["ipc", "pid", "net", "user", "uts"];

    RpcTestServer Server() =>
        new(new PodmonProcess.RuntimeDir(), RuncFixture.Runc, "--runtime-root", fx.StateDir, "--cgroup-manager", "cgroupfs");

    string BasePath() => Path.Combine(fx.Root, $"pins-{Guid.NewGuid():N}"[..13]);

    static JsonElement Ok(ConmonRpc.Result r)
    {
        Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}: {r.Stdout}{r.Stderr}");
        return r.Json;
    }

    static string Error(ConmonRpc.Result r)
    {
        Assert.True(r.ExitCode == 1, $"exit {r.ExitCode}: {r.Stdout}{r.Stderr}");
        Assert.Equal("failed", r.Json.GetProperty("type").GetString());
        return r.Json.GetProperty("error").GetString()!;
    }

    /// <summary>"net:[4026532404]" → 4026532404.</summary>
    static ulong NsInode(string link) => ulong.Parse(link[(link.IndexOf('[') + 1)..link.IndexOf(']')]);

    static ulong ProcNs(int pid, string kind) => NsInode(new FileInfo($"/proc/{pid}/ns/{kind}").LinkTarget!);

    static ulong Inode(string path) => ulong.Parse(Host.Check("/usr/bin/stat", "-L", "-c", "%i", path).Trim());

    static bool Mounted(string under) => File.ReadAllLines("/proc/self/mountinfo").Any(l => l.Split(' ')[4].StartsWith(under, StringComparison.Ordinal));

    static int PausePid(string basePath, string podId) => int.Parse(File.ReadAllText(Path.Combine(basePath, "conmonrs", podId + ".pid")));

    /// <summary>The response: five entries, ipc pid net user uts, at BASE/&lt;kind&gt;ns/&lt;pod&gt;.</summary>
    static void AssertResponse(JsonElement r, string basePath, string podId)
    {
        JsonElement[] ns = [.. r.GetProperty("namespaces").EnumerateArray()];
        Assert.Equal(Kinds, ns.Select(n => n.GetProperty("type").GetString()));
        Assert.Equal(Kinds.Select(k => $"{basePath}/{k}ns/{podId}"), ns.Select(n => n.GetProperty("path").GetString()));
    }

    /// <summary>Nothing of the pod is left: no mount under the base path, no pin or pid file, no pause.</summary>
    static void AssertTornDown(string basePath, string podId, int pause)
    {
        Assert.True(PodmonProcess.WaitUntil(() => !Host.IsAlive(pause), 10_000), $"the pause process {pause} survived");
        Assert.True(PodmonProcess.WaitUntil(() => !Mounted(basePath), 10_000), "a pin is still mounted:\n" +
            string.Join('\n', File.ReadAllLines("/proc/self/mountinfo").Where(l => l.Contains(basePath))));
        string[] files = [.. Kinds.Select(k => $"{basePath}/{k}ns/{podId}"), $"{basePath}/conmonrs/{podId}.pid"];
        Assert.True(PodmonProcess.WaitUntil(() => !files.Any(File.Exists), 10_000), "left: " + string.Join(", ", files.Where(File.Exists)));
    }

    [Theory]
    [InlineData(Libc.SIGTERM)]
    [InlineData(Libc.SIGINT)]
    public void PinsRealNamespacesOnePausePerServerAndStopRemovesThem(int signal)
    {
        string basePath = BasePath(), pod = "pod-" + signal;
        var s = Server();
        try
        {
            JsonElement r = Ok(ConmonRpc.Run(s.Socket, "create-namespaces", "--pod-id", pod, "--base-path", basePath,
                "--ns", "net", "--ns", "ipc", "--ns", "uts", "--ns", "pid"));
            AssertResponse(r, basePath, pod);
            int pause = PausePid(basePath, pod);
            Assert.True(Host.IsAlive(pause));
            foreach (string k in Kinds)
            {
                ulong pinned = Inode($"{basePath}/{k}ns/{pod}");
                Assert.Equal(ProcNs(pause, k), pinned); // the pin is the pause's namespace
                // requested kinds are new, the one not requested (user) pins the host's
                if (k == "user") Assert.Equal(ProcNs(Libc.getpid(), k), pinned);
                else Assert.NotEqual(ProcNs(Libc.getpid(), k), pinned);
            }
            // nsenter through the pin lands in the pause's namespace
            string viaPin = Host.Check("/usr/bin/nsenter", $"--net={basePath}/netns/{pod}", "--", "/usr/bin/readlink", "/proc/self/ns/net").Trim();
            Assert.Equal($"net:[{ProcNs(pause, "net")}]", viaPin);
            // the pause is pid 1 of the new pid namespace, with one thread and no runtime in it
            Dictionary<string, string> status = PodmonProcess.Status(pause);
            Assert.Equal($"{pause}\t1", status["NSpid"]);
            Assert.Equal("1", status["Threads"]);
            int rssKb = int.Parse(status["VmRSS"].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0]);
            output.WriteLine($"pause VmRSS {rssKb} kB");
            Assert.True(rssKb < 1024, $"the pause holds {rssKb} kB: a runtime was started?");

            // one pause per server: a second call, even for another pod, gets the first result
            JsonElement again = Ok(ConmonRpc.Run(s.Socket, "create-namespaces", "--pod-id", "other", "--base-path", basePath + "-2", "--ns", "net"));
            AssertResponse(again, basePath, pod);
            Assert.False(Directory.Exists(basePath + "-2"));
            Assert.Equal(pause, PausePid(basePath, pod));

            Errno.Check(Libc.kill(s.Pid, signal), "kill");
            Assert.True(PodmonProcess.WaitUntil(() => !Host.IsAlive(s.Pid), 10_000), "the server did not stop");
            AssertTornDown(basePath, pod, pause);
        }
        finally { s.Dispose(); }
    }

    [Fact]
    public void UserNamespaceGetsItsMapsAndAServerSigkillStillRemovesEverything()
    {
        string basePath = BasePath(), pod = "userpod";
        var s = Server();
        try
        {
            JsonElement r = Ok(ConmonRpc.Run(s.Socket, "create-namespaces", "--pod-id", pod, "--base-path", basePath,
                "--ns", "user", "--ns", "net", "--ns", "pid",
                "--uid-mapping", "0 100000 65536", "--gid-mapping", "0 200000 1000", "--gid-mapping", "1000 300000 10"));
            AssertResponse(r, basePath, pod);
            int pause = PausePid(basePath, pod);
            string Map(string f) => string.Join('\n', File.ReadAllLines($"/proc/{pause}/{f}").Select(l => string.Join(' ', l.Split(' ', StringSplitOptions.RemoveEmptyEntries))));
            Assert.Equal("0 100000 65536", Map("uid_map"));
            Assert.Equal("0 200000 1000\n1000 300000 10", Map("gid_map"));
            Assert.Equal("100000", PodmonProcess.Status(pause)["Uid"].Split('\t')[0]); // root in there, 100000 outside
            foreach (string k in new[] { "user", "net", "pid" })
            {
                Assert.Equal(ProcNs(pause, k), Inode($"{basePath}/{k}ns/{pod}"));
                Assert.NotEqual(ProcNs(Libc.getpid(), k), ProcNs(pause, k));
            }
            // the pins live in the host's mount namespace (visible here), though the pause may not mount there
            Assert.True(Mounted(basePath));
            Assert.Equal($"{pause}\t1", PodmonProcess.Status(pause)["NSpid"]);

            // SIGKILL: the pod watchdog unmounts and removes the pins and kills the pause
            Errno.Check(Libc.kill(s.Pid, Libc.SIGKILL), "kill");
            AssertTornDown(basePath, pod, pause);
        }
        finally { s.Dispose(); }
    }

    [Fact]
    public void ARuncContainerJoinsThePinnedNetworkNamespace()
    {
        string basePath = BasePath(), pod = "netpod";
        var s = Server();
        string id = fx.NewId("netns");
        try
        {
            Ok(ConmonRpc.Run(s.Socket, "create-namespaces", "--pod-id", pod, "--base-path", basePath, "--ns", "net"));
            string pin = $"{basePath}/netns/{pod}";
            string bundle = fx.Bundle(id, ["sleep", "1000"]);
            string configPath = Path.Combine(bundle, "config.json");
            JsonNode config = JsonNode.Parse(File.ReadAllText(configPath))!;
            var namespaces = config["linux"]!["namespaces"]!.AsArray();
            JsonNode? net = namespaces.FirstOrDefault(n => (string?)n!["type"] == "network");
            if (net is null) namespaces.Add(net = new JsonObject { ["type"] = "network" });
            net["path"] = pin;
            File.WriteAllText(configPath, config.ToJsonString());

            int pid = Ok(ConmonRpc.Run(s.Socket, "create", "--id", id, "--bundle", bundle)).GetProperty("containerPid").GetInt32();
            ulong pinned = Inode(pin);
            Assert.Equal(pinned, ProcNs(pid, "net"));
            Assert.NotEqual(ProcNs(Libc.getpid(), "net"), pinned);
            // and from inside: the container sees the pinned namespace, which has only a loopback device
            JsonElement ls = Ok(ConmonRpc.Run(s.Socket, "exec-sync", "--id", id, "--", "ls", "-l", "/proc/self/ns/net"));
            Assert.EndsWith($"net:[{pinned}]\n", ls.GetProperty("stdoutUtf8").GetString());
            JsonElement dev = Ok(ConmonRpc.Run(s.Socket, "exec-sync", "--id", id, "--", "cat", "/proc/net/dev"));
            string[] devices = [.. dev.GetProperty("stdoutUtf8").GetString()!.Split('\n').Skip(2).Where(l => l.Contains(':')).Select(l => l.Split(':')[0].Trim())];
            Assert.Equal(["lo"], devices);
            Errno.Check(Libc.kill(s.Pid, Libc.SIGTERM), "kill");
            Assert.True(PodmonProcess.WaitUntil(() => !Host.IsAlive(s.Pid), 10_000), "the server did not stop");
            Assert.False(Mounted(basePath));
        }
        finally
        {
            s.Dispose();
            Host.Run(RuncFixture.Runc, "--root", fx.StateDir, "delete", "-f", id);
        }
    }

    [Fact]
    public void BadRequestsAreErrorsThatSayWhichAndLeaveNothing()
    {
        string basePath = BasePath();
        using var s = Server();
        Assert.Equal("createNamespaces: no pod ID provided",
            Error(ConmonRpc.Run(s.Socket, "create-namespaces", "--pod-id", "", "--base-path", basePath, "--ns", "net")));
        Assert.Equal("createNamespaces: the user namespace needs uidMappings (none given)",
            Error(ConmonRpc.Run(s.Socket, "create-namespaces", "--pod-id", "p", "--base-path", basePath, "--ns", "user")));
        Assert.Equal("createNamespaces: the user namespace needs gidMappings (none given)",
            Error(ConmonRpc.Run(s.Socket, "create-namespaces", "--pod-id", "p", "--base-path", basePath, "--ns", "user", "--uid-mapping", "0 1 1")));
        Assert.Equal("createNamespaces: gidMappings[1] '0 x 1' is not a mapping 'CONTAINER HOST SIZE' (three unsigned 32-bit numbers)",
            Error(ConmonRpc.Run(s.Socket, "create-namespaces", "--pod-id", "p", "--base-path", basePath, "--ns", "user",
                "--uid-mapping", "0 1 1", "--gid-mapping", "0 1 1", "--gid-mapping", "0 x 1")));
        Assert.Equal("createNamespaces: pod ID '../x' is not a file name",
            Error(ConmonRpc.Run(s.Socket, "create-namespaces", "--pod-id", "../x", "--base-path", basePath, "--ns", "net")));
        Assert.False(Directory.Exists(basePath)); // refused before anything was made

        string file = Path.Combine(fx.Root, $"file-{Guid.NewGuid():N}");
        File.WriteAllText(file, "");
        Assert.Equal($"createNamespaces: base path '{file}/b' cannot be created: Not a directory (ENOTDIR)",
            Error(ConmonRpc.Run(s.Socket, "create-namespaces", "--pod-id", "p", "--base-path", file + "/b", "--ns", "net")));
        using (var ro = new Tmpfs(fx.Root, "64k"))
        {
            Host.Check("/usr/bin/mount", "-o", "remount,ro", ro.Path);
            Assert.Equal($"createNamespaces: base path '{ro.Path}' cannot be written: mkdir '{ro.Path}/conmonrs': Read-only file system (EROFS)",
                Error(ConmonRpc.Run(s.Socket, "create-namespaces", "--pod-id", "p", "--base-path", ro.Path, "--ns", "net")));
        }

        // the failures left the server as it was: the next good call pins
        JsonElement r = Ok(ConmonRpc.Run(s.Socket, "create-namespaces", "--pod-id", "p", "--base-path", basePath, "--ns", "uts"));
        AssertResponse(r, basePath, "p");
        int pause = PausePid(basePath, "p");
        Errno.Check(Libc.kill(s.Pid, Libc.SIGTERM), "kill");
        AssertTornDown(basePath, "p", pause);
    }

    /// <summary>`podmon pause` on its own (conmon-rs's command line): exits once pinned; its SIGTERM unpins.</summary>
    [Fact]
    public void ThePauseCommandPinsAndItsSigtermUnpins()
    {
        string basePath = BasePath();
        var r = PodmonProcess.Run(["pause", "--base-path", basePath, "--pod-id=solo", "--net", "--uts"]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("", r.Stderr);
        int pause = PausePid(basePath, "solo");
        Assert.Equal(ProcNs(pause, "net"), Inode($"{basePath}/netns/solo"));
        Assert.Equal(ProcNs(Libc.getpid(), "pid"), Inode($"{basePath}/pidns/solo")); // not asked: the host's
        Assert.True(Mounted(basePath));
        Errno.Check(Libc.kill(pause, Libc.SIGTERM), "kill");
        AssertTornDown(basePath, "solo", pause);
    }

    [Fact]
    public void PauseCommandLineErrorsAreUsageErrors()
    {
        var bad = PodmonProcess.Run(["pause", "--pod-id", "p", "--base-path", BasePath(), "--user", "--uid-mappings", "0 1", "--gid-mappings", "0 1 1"]);
        Assert.Equal(2, bad.ExitCode);
        Assert.Equal("podmon: error: pause: uid mapping '0 1' has the wrong format, expected 'CONTAINER HOST SIZE' (unsigned 32-bit numbers)\n", bad.Stderr);
        var noMaps = PodmonProcess.Run(["pause", "--pod-id", "p", "--user"]);
        Assert.Equal(2, noMaps.ExitCode);
        Assert.Equal("podmon: error: pause: --user requires --uid-mappings and --gid-mappings\n", noMaps.Stderr);
        var unknown = PodmonProcess.Run(["pause", "--pod-id", "p", "--mnt"]);
        Assert.Equal(2, unknown.ExitCode);
        Assert.Equal("podmon: error: pause: unexpected argument '--mnt' (see --help)\n", unknown.Stderr);
    }
}
