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

    public ChildReaper(EventLoop loop) => _loop = loop;

    public int WatchedCount => _watched.Count;

    public IEnumerable<int> WatchedPids => _watched.Keys;

    /// <summary>Watches a child; takes ownership of its pidfd.</summary>
    public void Watch(int pid, OwnedFd pidfd, IChildExitHandler handler)
    {
        var w = new WatchedChild(this, pid, pidfd, handler);
        _watched.Add(pid, w);
        w.Registration = _loop.Add(pidfd.Value, Libc.EPOLLIN, w);
    }

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
            Libc.waitid(Libc.P_PID, info.Pid, &reaped, Libc.WEXITED | Libc.WNOHANG);
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
