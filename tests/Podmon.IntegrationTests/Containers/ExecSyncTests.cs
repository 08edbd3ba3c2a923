using System.Text;
using Podmon.Containers;
using Podmon.IntegrationTests.Containers.Fixtures;

namespace Podmon.IntegrationTests.Containers;

public class ExecSyncTests(RuncFixture fx) : IClassFixture<RuncFixture>
{
    (EngineHarness H, string Id) Running()
    {
        var h = new EngineHarness(fx);
        string id = fx.NewId("exec");
        h.CreateOk(new CreateRequest { Id = id, BundlePath = fx.Bundle(id, ["sleep", "1000"]) });
        fx.Start(id);
        return (h, id);
    }

    [Fact]
    public void ExitCodeStdoutAndStderr()
    {
        var (h, id) = Running();
        using (h)
        {
            ExecSyncResult r = h.ExecSync(new ExecSyncRequest { Id = id, Command = ["sh", "-c", "echo out; echo err >&2; exit 7"] });
            Assert.Null(r.Error);
            Assert.Equal(7, r.ExitCode);
            Assert.Equal("out\n", Encoding.UTF8.GetString(r.Stdout));
            Assert.Equal("err\n", Encoding.UTF8.GetString(r.Stderr));
            Assert.False(r.TimedOut);
            Assert.Equal(0, h.Engine.ExecsInFlight);
        }
    }

    [Fact]
    public void TimeoutKillsTheProcessButNotTheContainer()
    {
        var (h, id) = Running();
        using (h)
        {
            long start = Environment.TickCount64;
            ExecSyncResult r = h.ExecSync(new ExecSyncRequest { Id = id, Command = ["sh", "-c", "echo started; exec sleep 100"], TimeoutSec = 1 });
            Assert.True(r.TimedOut);
            Assert.Equal(137, r.ExitCode);
            Assert.Equal("started\n", Encoding.UTF8.GetString(r.Stdout));
            Assert.InRange(Environment.TickCount64 - start, 900, 5000);
            Assert.Equal(ContainerState.Running, h.Engine.Find(id)!.State);
            Assert.Contains("running", fx.State(id));
            Assert.Equal(0, h.ExecSync(new ExecSyncRequest { Id = id, Command = ["true"] }).ExitCode);
        }
    }

    [Fact]
    public void TimeoutKillsWhatTheProcessLeftInItsGroup()
    {
        // conmon-rs kills the exec's process group on a timeout (CRI-O's exec-sync probes leave nothing behind).
        var (h, id) = Running();
        using (h)
        {
            ExecSyncResult r = h.ExecSync(new ExecSyncRequest { Id = id, Command = ["sh", "-c", "sleep 101 & exec sleep 102"], TimeoutSec = 1 });
            Assert.True(r.TimedOut);
            string ps = "";
            Assert.True(PodmonProcess.WaitUntil(() => !(ps = Host.Check(RuncFixture.Runc, "--root", fx.StateDir, "ps", id)).Contains("sleep 101") && !ps.Contains("sleep 102"), 5000),
                $"left running:\n{ps}");
            Assert.Equal(ContainerState.Running, h.Engine.Find(id)!.State);
        }
    }

    [Fact]
    public void TwentyFiveConcurrentExecs()
    {
        var (h, id) = Running();
        using (h)
        {
            var results = new ExecSyncResult?[25];
            for (int i = 0; i < results.Length; i++)
            {
                int n = i;
                h.Engine.ExecSync(new ExecSyncRequest { Id = id, Command = ["sh", "-c", $"echo {n}; exit {n}"] }, r => results[n] = r);
            }
            h.RunUntil(() => results.All(r => r is not null), 60_000, "25 execs");
            for (int i = 0; i < results.Length; i++)
            {
                Assert.Null(results[i]!.Error);
                Assert.Equal(i, results[i]!.ExitCode);
                Assert.Equal($"{i}\n", Encoding.UTF8.GetString(results[i]!.Stdout));
            }
        }
    }

    [Fact]
    public void ErrorsCarryTheRuntimesMessage()
    {
        var (h, id) = Running();
        using (h)
        {
            ExecSyncResult missing = h.ExecSync(new ExecSyncRequest { Id = "nope", Command = ["true"] });
            Assert.Equal(ExecSyncResult.RuntimeFailedExitCode, missing.ExitCode);
            Assert.Contains("not found", missing.Error);
            ExecSyncResult bad = h.ExecSync(new ExecSyncRequest { Id = id, Command = ["/no/such/cmd"] });
            Assert.NotEqual(0, bad.ExitCode);
            Assert.Contains("no such file", (bad.Error ?? "") + Encoding.UTF8.GetString(bad.Stderr), StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public void OutputIsCappedAtTheLimit()
    {
        var h = new EngineHarness(fx, o => new EngineOptions
        {
            RuntimePath = o.RuntimePath, RuntimeRoot = o.RuntimeRoot, RuntimeDir = o.RuntimeDir,
            WatchdogPath = o.WatchdogPath, WatchdogArgs = o.WatchdogArgs, ExecOutputLimit = 100_000,
        });
        string id = fx.NewId("exec");
        using (h)
        {
            h.CreateOk(new CreateRequest { Id = id, BundlePath = fx.Bundle(id, ["sleep", "1000"]) });
            fx.Start(id);
            ExecSyncResult r = h.ExecSync(new ExecSyncRequest { Id = id, Command = ["sh", "-c", "head -c 300000 /dev/zero"] });
            Assert.Equal(0, r.ExitCode);
            Assert.Equal(100_000, r.Stdout.Length);
            Assert.True(r.Truncated);
        }
    }

    [Fact]
    public void TerminalExecReadsThePty()
    {
        var (h, id) = Running();
        using (h)
        {
            ExecSyncResult r = h.ExecSync(new ExecSyncRequest { Id = id, Command = ["sh", "-c", "[ -t 1 ] && echo is-a-tty"], Terminal = true });
            Assert.Null(r.Error);
            Assert.Equal(0, r.ExitCode);
            Assert.Contains("is-a-tty", Encoding.UTF8.GetString(r.Stdout));
        }
    }
}
