using Podmon.Hosting;
using Podmon.Loop;

namespace Podmon.Testing;

/// <summary>
/// A loop on the IO backend the suite runs with (PODMON_IO, as the product reads it), so the
/// container and log tests run on epoll and again on io_uring (tests/run.sh).
/// </summary>
public static class TestLoop
{
    public static EventLoop Create() => IoBackend.CreateLoop(Environment.GetEnvironmentVariable(IoBackend.Variable));
}
