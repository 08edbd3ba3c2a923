using Podmon.Containers;
using Podmon.Logging;
using Podmon.IntegrationTests.Containers.Fixtures;

namespace Podmon.IntegrationTests.Containers;

public class CreateExitTests(RuncFixture fx) : IClassFixture<RuncFixture>
{
    CreateRequest Request(string id, string[] args, bool terminal = false, string[]? exitPaths = null, IReadOnlyList<string>? cleanup = null,
        IReadOnlyList<LogDriverConfig>? logs = null) => new()
    {
        Id = id,
        BundlePath = fx.Bundle(id, args, terminal),
        Terminal = terminal,
        ExitPaths = exitPaths ?? [],
        CleanupCmd = cleanup ?? [],
        LogDrivers = logs ?? [],
    };

    string Temp(string name) => Path.Combine(fx.Root, $"{Guid.NewGuid():N}-{name}");

    [Theory]
    [InlineData("exit 0", 0)]
    [InlineData("exit 3", 3)]
    [InlineData("exit 255", 255)]
    public void ExitCodeIsWrittenToEveryExitPath(string script, int expected)
    {
        using var h = new EngineHarness(fx);
        string id = fx.NewId();
        string[] exits = [Temp("exit-a"), Temp("exit-b")];
        int pid = h.CreateOk(Request(id, ["sh", "-c", script], exitPaths: exits));
        Assert.True(pid > 0);
        Assert.True(Host.IsAlive(pid));
        Assert.NotNull(h.Engine.Find(id));
        fx.Start(id);
        Assert.Equal(expected, h.WaitExit(id));
        foreach (string p in exits) Assert.Equal(expected.ToString(), File.ReadAllText(p));
        // atomic: no temp file left beside them
        Assert.Empty(Directory.GetFiles(fx.Root, "*.tmp"));
        Assert.Null(h.Engine.Find(id));
    }

    [Fact]
    public void SigkillFromOutsideIs137()
    {
        using var h = new EngineHarness(fx);
        string id = fx.NewId();
        string exit = Temp("exit");
        int pid = h.CreateOk(Request(id, ["sleep", "100"], exitPaths: [exit]));
        fx.Start(id);
        h.RunFor(100);
        Podmon.Sys.Libc.kill(pid, 9);
        Assert.Equal(137, h.WaitExit(id));
        Assert.Equal("137", File.ReadAllText(exit));
    }

    [Fact]
    public void CleanupCommandRunsAfterExit()
    {
        using var h = new EngineHarness(fx);
        string id = fx.NewId();
        string marker = Temp("cleanup");
        string exit = Temp("exit");
        h.CreateOk(Request(id, ["true"], exitPaths: [exit], cleanup: ["/bin/sh", "-c", $"cat {exit} > {marker}"]));
        fx.Start(id);
        Assert.Equal(0, h.WaitExit(id));
        h.RunUntil(() => File.Exists(marker) && new FileInfo(marker).Length > 0, what: "cleanup command");
        Assert.Equal("0", File.ReadAllText(marker));
    }

    [Fact]
    public void InvalidCommandFailsWithTheRuntimesMessage()
    {
        using var h = new EngineHarness(fx);
        string id = fx.NewId();
        CreateResult r = h.Create(Request(id, ["/no/such/binary"]));
        Assert.False(r.Succeeded);
        Assert.Contains("no such file", r.Error, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("exited with status", r.Error);
        Assert.Null(h.Engine.Find(id));
    }

    [Fact]
    public void DuplicateIdFailsWithTheRuntimesMessage()
    {
        using var h = new EngineHarness(fx);
        string id = fx.NewId();
        h.CreateOk(Request(id, ["sleep", "100"]));
        // A second podmon (or a stale container) with the same id: runc refuses it.
        using var other = new EngineHarness(fx);
        CreateResult r = other.Create(Request(id, ["true"]));
        Assert.False(r.Succeeded);
        Assert.True(r.Error!.Contains("exists"), r.Error);
        Assert.Contains(id, r.Error);
        // And the same engine refuses before running the runtime.
        CreateResult again = h.Create(Request(id, ["true"]));
        Assert.Contains("already exists", again.Error);
    }

    [Fact]
    public void MissingBundleAndBadLogDriverAreClearErrors()
    {
        using var h = new EngineHarness(fx);
        CreateResult r = h.Create(new CreateRequest { Id = fx.NewId(), BundlePath = "/nonexistent/bundle" });
        Assert.False(r.Succeeded);
        Assert.Contains("/nonexistent/bundle", r.Error);
        CreateResult noPath = h.Create(Request(fx.NewId(), ["true"], logs: [new LogDriverConfig(LogDriverType.ContainerRuntimeInterface)]));
        Assert.Contains("requires a path", noPath.Error);
        CreateResult journald = h.Create(Request(fx.NewId(), ["true"], logs: [new LogDriverConfig(LogDriverType.Journald)]));
        Assert.Contains("journal socket", journald.Error);
        CreateResult tiny = h.Create(Request(fx.NewId(), ["true"], logs: [new LogDriverConfig(LogDriverType.Json, Temp("log"), 10)]));
        Assert.Contains("maxSize", tiny.Error);
    }

    [Fact]
    public void TerminalContainerGetsAPtyAndItsOutputIsLogged()
    {
        using var h = new EngineHarness(fx);
        string id = fx.NewId();
        string log = Temp("log");
        string exit = Temp("exit");
        h.CreateOk(Request(id, ["sh", "-c", "[ -t 1 ] && echo tty-yes; exit 4"], terminal: true, exitPaths: [exit],
            logs: [new LogDriverConfig(LogDriverType.ContainerRuntimeInterface, log)]));
        fx.Start(id);
        Assert.Equal(4, h.WaitExit(id));
        string text = File.ReadAllText(log);
        Assert.Matches(@"^\S+ stdout F tty-yes\r\n$", text);
    }

    [Fact]
    public void ContainerThatDiesBeforeItIsWatchedStillReportsItsExit()
    {
        using var h = new EngineHarness(fx);
        string id = fx.NewId();
        string exit = Temp("exit");
        var req = Request(id, ["sleep", "100"], exitPaths: [exit]);
        // Kill the container init the moment runc has created it, before the engine claims it.
        h.Engine.Create(req, _ => { });
        string pidfile = Path.Combine(req.BundlePath!, "pidfile");
        h.RunUntil(() => File.Exists(pidfile) && File.ReadAllText(pidfile).Length > 0, what: "pidfile");
        int pid = int.Parse(File.ReadAllText(pidfile));
        Podmon.Sys.Libc.kill(pid, 9);
        Assert.Equal(137, h.WaitExit(id));
        Assert.Equal("137", File.ReadAllText(exit));
    }
}
