using Podmon.Containers;
using Podmon.Loop;
using Podmon.Rpc;

namespace Podmon.Tests.Rpc;

/// <summary>A ConmonService for session-level tests: an engine on its own loop, no watchdog.</summary>
static class TestConmon
{
    public static ConmonService Create()
    {
        var loop = new EventLoop();
        var engine = new ContainerEngine(loop, new ChildReaper(loop), new EngineOptions
        {
            RuntimePath = "/bin/false",
            RuntimeDir = Path.GetTempPath(),
            WatchdogPath = null,
        });
        return new ConmonService(engine, Podmon.Containers.CgroupManager.Cgroupfs);
    }
}
