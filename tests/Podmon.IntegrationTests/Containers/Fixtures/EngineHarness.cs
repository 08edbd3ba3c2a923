using Podmon.Containers;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.IntegrationTests.Containers.Fixtures;

/// <summary>A ContainerEngine on its own EventLoop, driven by the test thread until something happens.</summary>
public sealed class EngineHarness : IDisposable
{
    public EventLoop Loop { get; } = new();
    public ChildReaper Reaper { get; }
    public ContainerEngine Engine { get; }
    public LazyPodWatchdog Watchdog { get; }
    public RuncFixture Fixture { get; }
    public Dictionary<string, int> Exits { get; } = [];

    public EngineHarness(RuncFixture fixture, Func<EngineOptions, EngineOptions>? configure = null)
    {
        Fixture = fixture;
        Reaper = new ChildReaper(Loop);
        var options = new EngineOptions
        {
            RuntimePath = RuncFixture.Runc,
            RuntimeRoot = fixture.StateDir,
            RuntimeDir = fixture.RuntimeDir,
            WatchdogPath = NativeResolver.WatchdogPath,
            WatchdogArgs = ["podmon-watchdog"],
        };
        options = configure?.Invoke(options) ?? options;
        Watchdog = new LazyPodWatchdog(Reaper, options.WatchdogPath, options.WatchdogArgs);
        Engine = new ContainerEngine(Loop, Reaper, options, Watchdog);
        Engine.ContainerExited += c => Exits[c.Id] = c.ExitCode ?? int.MinValue;
    }

    public void RunUntil(Func<bool> done, int timeoutMs = 15_000, string what = "condition")
    {
        long deadline = Libc.MonotonicMs() + timeoutMs;
        while (!done())
        {
            if (Libc.MonotonicMs() > deadline) throw new TimeoutException($"timed out waiting for {what}");
            Loop.RunOnce(50);
        }
    }

    public void RunFor(int ms)
    {
        long until = Libc.MonotonicMs() + ms;
        while (Libc.MonotonicMs() < until) Loop.RunOnce((int)Math.Max(1, until - Libc.MonotonicMs()));
    }

    public CreateResult Create(CreateRequest request)
    {
        CreateResult? result = null;
        Engine.Create(request, r => result = r);
        RunUntil(() => result is not null, what: "create");
        return result!.Value;
    }

    public int CreateOk(CreateRequest request)
    {
        CreateResult r = Create(request);
        Assert.True(r.Succeeded, r.Error);
        return r.ContainerPid;
    }

    public ExecSyncResult ExecSync(ExecSyncRequest request, int timeoutMs = 30_000)
    {
        ExecSyncResult? result = null;
        Engine.ExecSync(request, r => result = r);
        RunUntil(() => result is not null, timeoutMs, "exec-sync");
        return result!;
    }

    public int WaitExit(string id, int timeoutMs = 15_000)
    {
        RunUntil(() => Exits.ContainsKey(id), timeoutMs, $"exit of {id}");
        return Exits[id];
    }

    public void Dispose()
    {
        Engine.KillAll();
        try { RunUntil(() => Engine.Count == 0, 5000, "containers to exit"); } catch (TimeoutException) { }
        Watchdog.Dispose();
        Engine.Dispose();
        Reaper.Dispose();
        Loop.Dispose();
    }
}
