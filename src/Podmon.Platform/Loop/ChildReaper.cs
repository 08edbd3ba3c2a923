using Podmon.Sys;

namespace Podmon.Loop;

public interface IChildExitHandler
{
    /// <summary>The child exited: its conmon-style exit code (status, or 128 + signal).</summary>
    void OnChildExit(int pid, int exitCode);
}

/// <summary>
/// Watches the children podmon started through their pidfds, and reaps every other child
/// (orphans re-parented to podmon as subreaper) on SIGCHLD, so no zombie stays and no watched
/// child's status is taken by the wrong waiter.
/// </summary>
public sealed unsafe class ChildReaper : IDisposable
{
    readonly EventLoop _loop;
    readonly Dictionary<int, WatchedChild> _watched = [];
    // Exit codes of children reaped unwatched while a runtime call was in flight: a container's
    // init becomes our child when runc exits and may already be dead before we read its pid.
    readonly Dictionary<int, int> _orphanExits = [];
    readonly List<PendingExit> _pendingExits = [];
    readonly LoopTimer _pendingTimer;
    int _holds;

    public ChildReaper(EventLoop loop)
    {
        _loop = loop;
        _pendingTimer = new LoopTimer(new PendingDelivery(this));
    }

    public int WatchedCount => _watched.Count;

    public IEnumerable<int> WatchedPids => _watched.Keys;

    /// <summary>Watches a child; takes ownership of its pidfd.</summary>
    public void Watch(int pid, OwnedFd pidfd, IChildExitHandler handler)
    {
        var w = new WatchedChild(this, pid, pidfd, handler);
        _watched.Add(pid, w);
        w.Registration = _loop.Add(pidfd.Value, Libc.EPOLLIN, w);
    }

    /// <summary>
    /// Keeps the exit codes of unwatched children that <see cref="ReapOrphans"/> reaps until the
    /// matching <see cref="ReleaseOrphans"/>, so <see cref="Claim"/> can still hand them out.
    /// Held while a runtime call (create, exec) runs; the cache is dropped when no hold is left.
    /// </summary>
    public void HoldOrphans() => _holds++;

    public void ReleaseOrphans()
    {
        if (_holds > 0 && --_holds == 0) _orphanExits.Clear();
    }

    /// <summary>
    /// Watches <paramref name="pid"/>, a process that was re-parented to podmon (subreaper). If it
    /// was already reaped as an orphan, its exit code is delivered from the loop soon after.
    /// Returns a pidfd for extra watchers (owned by the caller), or null if the process is gone.
    /// </summary>
    public OwnedFd? Claim(int pid, IChildExitHandler handler)
    {
        if (_orphanExits.Remove(pid, out int code))
        {
            _pendingExits.Add(new PendingExit(pid, code, handler));
            _loop.Timers.Schedule(_pendingTimer, 0);
            return null;
        }
        int fd = Native.PidfdOpen(pid, 0);
        if (fd < 0)
        {
            // Neither alive nor a zombie of ours: the status is lost; say so rather than hang.
            _pendingExits.Add(new PendingExit(pid, -1, handler));
            _loop.Timers.Schedule(_pendingTimer, 0);
            return null;
        }
        var pidfd = new OwnedFd(fd);
        int dup = Libc.fcntl(fd, Libc.F_DUPFD_CLOEXEC, 0);
        Watch(pid, pidfd, handler);
        return dup >= 0 ? new OwnedFd(dup) : null;
    }

    public bool IsWatched(int pid) => _watched.ContainsKey(pid);

    /// <summary>Signals every watched child (shutdown).</summary>
    public void SignalAll(int sig)
    {
        foreach (WatchedChild w in _watched.Values) Native.PidfdSendSignal(w.Pidfd.Value, sig, 0);
    }

    /// <summary>On SIGCHLD: reap what nobody watches, hand watched exits to their handlers.</summary>
    public void ReapOrphans()
    {
        while (true)
        {
            Libc.SigInfo info = default;
            if (Libc.waitid(Libc.P_ALL, 0, &info, Libc.WEXITED | Libc.WNOHANG | Libc.WNOWAIT) < 0 || info.Pid == 0)
                return;
            if (_watched.TryGetValue(info.Pid, out WatchedChild? w))
            {
                w.Reap();
                continue;
            }
            Libc.SigInfo reaped = default;
            if (Libc.waitid(Libc.P_PID, info.Pid, &reaped, Libc.WEXITED | Libc.WNOHANG) == 0 && reaped.Pid != 0 && _holds > 0)
                _orphanExits[reaped.Pid] = Libc.ExitCode(reaped);
        }
    }

    readonly record struct PendingExit(int Pid, int ExitCode, IChildExitHandler Handler);

    sealed class PendingDelivery(ChildReaper owner) : ITimerHandler
    {
        public void OnTimer(LoopTimer timer)
        {
            var pending = owner._pendingExits.ToArray();
            owner._pendingExits.Clear();
            foreach (PendingExit p in pending) p.Handler.OnChildExit(p.Pid, p.ExitCode);
        }
    }

    void Completed(WatchedChild w, int exitCode)
    {
        _loop.Remove(w.Registration);
        _watched.Remove(w.Pid);
        w.Pidfd.Dispose();
        w.Handler.OnChildExit(w.Pid, exitCode);
    }

    public void Dispose()
    {
        foreach (WatchedChild w in _watched.Values)
        {
            _loop.Remove(w.Registration);
            w.Pidfd.Dispose();
        }
        _watched.Clear();
    }

    sealed class WatchedChild(ChildReaper owner, int pid, OwnedFd pidfd, IChildExitHandler handler) : IEventHandler
    {
        public readonly int Pid = pid;
        public readonly OwnedFd Pidfd = pidfd;
        public readonly IChildExitHandler Handler = handler;
        public Registration Registration;

        public void OnEvents(uint events) => Reap();

        public void Reap()
        {
            Libc.SigInfo info = default;
            int r = Libc.waitid(Libc.P_PIDFD, Pidfd.Value, &info, Libc.WEXITED | Libc.WNOHANG);
            if (r < 0)
            {
                // Not (or no longer) our child: the exit status is gone; report it as unknown.
                if (Errno.Last == Errno.ECHILD) owner.Completed(this, -1);
                return;
            }
            if (info.Pid == 0) return;
            owner.Completed(this, Libc.ExitCode(info));
        }
    }
}
