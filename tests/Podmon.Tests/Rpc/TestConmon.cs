using Podmon.Containers;
using Podmon.Loop;
using Podmon.Rpc;
using Podmon.Streaming;

namespace Podmon.Tests.Rpc;

/// <summary>A ConmonService for session-level tests: an engine on its own loop, no watchdog.</summary>
static class TestConmon
{
    public static ConmonService Create()
    {
        var loop = new EventLoop();
        var reaper = new ChildReaper(loop);
        var engine = new ContainerEngine(loop, reaper, new EngineOptions
        {
            RuntimePath = "/bin/false",
            RuntimeDir = Path.GetTempPath(),
            WatchdogPath = null,
        }, new LazyPodWatchdog(reaper, path: null, argv: []));
        return new ConmonService(engine, Podmon.Containers.CgroupManager.Cgroupfs, streaming: new StreamingServer(loop, engine));
    }
}
