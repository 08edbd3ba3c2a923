using Podmon.Diagnostics;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Containers;

/// <summary>
/// How containers die when podmon is SIGKILLed. runc resets PR_SET_PDEATHSIG in the container,
/// the container has its own pid namespace, and once runc exits the container init is podmon's
/// child (subreaper): nothing in the kernel kills it when podmon dies. So podmon starts one
/// watchdog process per pod (native/watchdog.c, `podmon --pod-watchdog`, no .NET runtime) joined
/// by a socketpair, and sends it a pidfd of every container init and exec'd process. When podmon
/// dies for any reason the kernel closes podmon's end; the watchdog reads EOF and SIGKILLs every
/// process it still holds (pidfds: a reused pid is never hit), then exits. Killing the init of
/// a container's pid namespace takes all its processes with it. Exit files are not written then:
/// nobody is left to reap the containers.
/// </summary>
public sealed class PodWatchdog : IChildExitHandler, IDisposable
{
    readonly OwnedFd _socket;
    readonly int _pid;

    PodWatchdog(OwnedFd socket, int pid)
    {
        _socket = socket;
        _pid = pid;
    }

    public bool IsAlive { get; private set; } = true;

    /// <summary>Set on server shutdown: the watchdog's exit is then expected.</summary>
    public bool Stopping { get; set; }
    public int Pid => _pid;
    internal int SocketFd => _socket.Value;

    public static unsafe PodWatchdog Start(string path, IReadOnlyList<string> argv, ChildReaper reaper)
    {
        int* sv = stackalloc int[2];
        Errno.Check(Libc.socketpair(Libc.AF_UNIX, Libc.SOCK_SEQPACKET | Libc.SOCK_CLOEXEC, 0, sv), "socketpair");
        var ours = new OwnedFd(sv[0]);
        using var theirs = new OwnedFd(sv[1]);
        try
        {
            var req = new SpawnRequest { Path = path, Argv = argv };
            req.Fds.AddRange([(0, -1), (1, -1), (2, -1), (3, theirs.Value)]);
            SpawnedProcess p = Spawner.Spawn(req);
            Libc.SetNonBlocking(ours.Value);
            var dog = new PodWatchdog(ours, p.Pid);
            if (p.Pidfd is not null) reaper.Watch(p.Pid, p.Pidfd, dog);
            return dog;
        }
        catch
        {
            ours.Dispose();
            throw;
        }
    }

    /// <summary>Hands the watchdog a pidfd (it gets its own copy) of a process to kill if podmon dies.</summary>
    public void Register(int pidfd)
    {
        if (!IsAlive) return;
        try { UnixSocket.SendWithFds(_socket.Value, "A"u8, [pidfd]); }
        catch (SyscallException e) { Log.Error($"pod watchdog: could not register a process: {e.Message}"); }
    }

    public void OnChildExit(int pid, int exitCode)
    {
        IsAlive = false;
        if (!Stopping) Log.Error($"pod watchdog (pid {pid}) exited with {exitCode}: containers will not be killed if podmon dies");
    }

    /// <summary>Closes podmon's end: the watchdog kills what it still holds and exits.</summary>
    public void Dispose() => _socket.Dispose();
}
