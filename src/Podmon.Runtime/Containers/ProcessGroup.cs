using Podmon.Sys;

namespace Podmon.Containers;

/// <summary>
/// A timed-out process goes with its whole process group, as conmon and conmon-rs kill it
/// (`kill(-pgid)`): children it left behind, e.g. an exec'd shell's `sleep &`, go too.
/// </summary>
static class ProcessGroup
{
    /// <summary>SIGKILLs the group of <paramref name="pid"/> (a child not yet reaped, so the pid is still its own).</summary>
    public static void Kill(int pid)
    {
        int group = Libc.getpgid(pid);
        // Never our own group, nor 1 (kill(-1) would signal everything we may signal).
        if (group > 1 && group != Libc.getpgrp()) Libc.kill(-group, Libc.SIGKILL);
    }
}
