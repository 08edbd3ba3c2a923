using Podmon.Diagnostics;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Hosting;

/// <summary>
/// How a monitor's loop does its IO, chosen once at start-up from PODMON_IO: "epoll" (readiness,
/// then read/write), "io_uring" (the loop waits on a ring, container output is read through it;
/// falls back to epoll when the kernel refuses a ring: ENOSYS, EPERM under seccomp or
/// kernel.io_uring_disabled), or unset/"auto": <see cref="Default"/>, the faster one as measured
/// (docs/io-backends.md).
/// </summary>
public static class IoBackend
{
    public const string Variable = "PODMON_IO";

    /// <summary>What "auto" means.</summary>
    public const string Default = "epoll";

    /// <summary>A loop on the chosen backend; an unknown value is an error naming the choices.</summary>
    public static EventLoop CreateLoop(string? choice)
    {
        string c = string.IsNullOrEmpty(choice) || choice == "auto" ? Default : choice;
        switch (c)
        {
            case "epoll":
                return new EventLoop();
            case "io_uring":
            case "iouring":
                IoUring? ring = IoUring.TryCreate(out string? reason);
                if (ring is null) Log.Info($"{Variable}={choice}: {reason}: using epoll");
                return new EventLoop(ring);
            default:
                throw new ArgumentException($"{Variable}: unknown IO backend '{choice}' (epoll, io_uring or auto)");
        }
    }
}
