using Podmon.Containers;
using Podmon.Sys;
using Podmon.IntegrationTests.Containers.Fixtures;

namespace Podmon.IntegrationTests.Containers;

public class OomWatchdogTests(RuncFixture fx) : IClassFixture<RuncFixture>
{
    string Temp(string name) => Path.Combine(fx.Root, $"{Guid.NewGuid():N}-{name}");

    [Fact]
    public void OomKillWritesTheOomFilesThenTheExitCode()
    {
        Assert.False(CgroupInfo.IsV2()); // this host: cgroup v1 memory controller (hybrid)
        using var h = new EngineHarness(fx);
        string id = fx.NewId("oom");
        string oom1 = Temp("oom1"), oom2 = Temp("oom2"), exit = Temp("exit");
        h.CreateOk(new CreateRequest
        {
            Id = id, BundlePath = fx.Bundle(id, ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"], memoryLimit: 8 << 20),
            OomExitPaths = [oom1, oom2], ExitPaths = [exit],
        });
        fx.Start(id);
        int code = h.WaitExit(id);
        Assert.True(File.Exists(oom1) && File.Exists(oom2), "OOM files");
        Assert.Equal(0, new FileInfo(oom1).Length);
        Assert.Equal(137, code);
        Assert.Equal("137", File.ReadAllText(exit));
    }

    [Fact]
    public void NoOomNoOomFile()
    {
        using var h = new EngineHarness(fx);
        string id = fx.NewId("oom");
        string oom = Temp("oom");
        h.CreateOk(new CreateRequest { Id = id, BundlePath = fx.Bundle(id, ["true"], memoryLimit: 64 << 20), OomExitPaths = [oom] });
        fx.Start(id);
        Assert.Equal(0, h.WaitExit(id));
        Assert.False(File.Exists(oom));
    }

    [Fact]
    public void CgroupParsing()
    {
        const string v1 = "12:pids:/a\n4:memory:/podmon/ctr1\n3:cpu,cpuacct:/x\n0::/\n";
        Assert.Equal("/sys/fs/cgroup/memory/podmon/ctr1", CgroupInfo.V1Path(v1, "memory"));
        Assert.Equal("/sys/fs/cgroup/cpuacct/x", CgroupInfo.V1Path(v1, "cpuacct"));
        Assert.Null(CgroupInfo.V1Path("0::/only-v2\n", "memory"));
        Assert.Equal("/sys/fs/cgroup/kubepods/pod1/ctr", CgroupInfo.V2Path("0::/kubepods/pod1/ctr\n"));
        const string events = "low 0\nhigh 3\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n";
        Assert.Equal(3UL, CgroupInfo.V2OomCount(events));
        Assert.Equal(0UL, CgroupInfo.V2OomCount("low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"));
        Assert.Equal(5UL, CgroupInfo.Counter("oom_kill_disable 0\nunder_oom 0\noom_kill 5\n", "oom_kill"));
    }

    [Fact]
    public void ContainersDieWhenTheLastHolderOfPodmonsWatchdogSocketIsSigkilled()
    {
        using var h = new EngineHarness(fx);
        PodWatchdog dog = h.Watchdog.Start()!;
        Assert.True(Host.IsAlive(dog.Pid));
        string a = fx.NewId("dog"), b = fx.NewId("dog");
        int pidA = h.CreateOk(new CreateRequest { Id = a, BundlePath = fx.Bundle(a, ["sleep", "1000"]) });
        int pidB = h.CreateOk(new CreateRequest { Id = b, BundlePath = fx.Bundle(b, ["sleep", "1000"]) });
        fx.Start(a);
        // An exec'd process is registered too.
        ExecSyncResult? exec = null;
        h.Engine.ExecSync(new ExecSyncRequest { Id = a, Command = ["sleep", "999"] }, r => exec = r);
        h.RunUntil(() => h.Engine.ExecProcessesRunning == 1, what: "exec running");
        // Stand-in for podmon: a process that holds podmon's end of the watchdog socket, then is SIGKILLed.
        var stand = StandIn(dog);
        dog.Dispose(); // podmon's own copy goes; the stand-in's is now the last one
        h.RunFor(100);
        Assert.True(Host.IsAlive(pidA) && Host.IsAlive(pidB));
        Libc.kill(stand, Libc.SIGKILL);
        Assert.Equal(137, h.WaitExit(a));
        Assert.Equal(137, h.WaitExit(b));
        h.RunUntil(() => exec is not null, what: "exec result");
        Assert.Equal(137, exec!.ExitCode);
        h.RunUntil(() => !Host.IsAlive(dog.Pid), what: "watchdog exit");
    }

    /// <summary>Spawns `sleep` holding a dup of the engine's watchdog socket end; returns its pid.</summary>
    static int StandIn(PodWatchdog dog)
    {
        var req = new SpawnRequest { Path = "/bin/sleep", Argv = ["sleep", "1000"] };
        req.Fds.AddRange([(0, -1), (1, -1), (2, -1), (3, dog.SocketFd)]);
        return Spawner.Spawn(req).Pid;
    }
}
