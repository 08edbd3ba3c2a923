using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Tests.Loop;

[CollectionDefinition("serial-reaping", DisableParallelization = true)]
public class SerialReapingCollection;

/// <summary>ReapOrphans reaps every unwatched child of the process: alone, so no other test's children are taken.</summary>
[Collection("serial-reaping")]
public unsafe class OrphanReapTests
{
    sealed class Recorder : IChildExitHandler
    {
        public readonly List<(int Pid, int Code)> Exits = [];
        public void OnChildExit(int pid, int exitCode) => Exits.Add((pid, exitCode));
    }

    [Fact]
    public void AnOrphanReapedBeforeItIsClaimedKeepsItsExitCodeWhileHeld()
    {
        using var loop = TestLoop.Create();
        using var reaper = new ChildReaper(loop);
        var rec = new Recorder();
        reaper.HoldOrphans();
        SpawnedProcess p = Spawner.Spawn(new SpawnRequest { Path = "/bin/sh", Argv = ["sh", "-c", "exit 5"] });
        p.Pidfd!.Dispose(); // nobody watches it: like a container init runc left behind
        Libc.SigInfo info = default;
        Libc.waitid(Libc.P_PID, p.Pid, &info, Libc.WEXITED | Libc.WNOWAIT); // it is a zombie now
        reaper.ReapOrphans();
        Assert.False(File.Exists($"/proc/{p.Pid}/stat")); // reaped
        Assert.Null(reaper.Claim(p.Pid, rec));
        loop.RunOnce(100);
        Assert.Equal([(p.Pid, 5)], rec.Exits);
        reaper.ReleaseOrphans();
    }

    [Fact]
    public void WithoutAHoldOrphansAreForgotten()
    {
        using var loop = TestLoop.Create();
        using var reaper = new ChildReaper(loop);
        var rec = new Recorder();
        SpawnedProcess p = Spawner.Spawn(new SpawnRequest { Path = "/bin/sh", Argv = ["sh", "-c", "exit 5"] });
        p.Pidfd!.Dispose();
        Libc.SigInfo info = default;
        Libc.waitid(Libc.P_PID, p.Pid, &info, Libc.WEXITED | Libc.WNOWAIT);
        reaper.ReapOrphans();
        reaper.Claim(p.Pid, rec);
        loop.RunOnce(100);
        Assert.Equal([(p.Pid, -1)], rec.Exits); // unknown, but reported: nobody waits forever
    }
}
