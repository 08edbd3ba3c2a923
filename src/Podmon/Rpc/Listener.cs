using Podmon.Diagnostics;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Rpc;

/// <summary>
/// The listening socket on the loop: accepts every pending client and hands it on. When the process
/// is out of descriptors (EMFILE, ENFILE, ENOBUFS, ENOMEM) it stops watching the socket, so that a
/// level-triggered listener with waiting clients does not spin: clients stay in the backlog and are
/// accepted as soon as a descriptor is free (a connection closed, see <see cref="DescriptorFreed"/>)
/// or at the next retry. One warning per episode, and one line when it ends (no client waits any more).
/// </summary>
public sealed unsafe class Listener : IEventHandler, IDisposable
{
    /// <summary>Retry interval while out of descriptors (an fd may be freed by something other than a connection).</summary>
    const int RetryMs = 100;

    readonly EventLoop _loop;
    readonly OwnedFd _fd;
    readonly IConnectionAcceptor _acceptor;
    readonly Registration _reg;
    readonly LoopTimer _retry;
    bool _paused;
    long _exhaustedSince = -1; // monotonic ms of the episode's first failure; -1 = none
    long _refused; // accept failures in this episode

    /// <param name="socketType">SOCK_STREAM (the RPC socket) or SOCK_SEQPACKET (the fd socket)</param>
    public Listener(EventLoop loop, string path, IConnectionAcceptor acceptor, int socketType = Libc.SOCK_STREAM)
    {
        _loop = loop;
        _acceptor = acceptor;
        Path = path;
        _fd = UnixSocket.Listen(path, socketType, 0b110_000_000 /* 0600 */);
        _reg = loop.Add(_fd.Value, Libc.EPOLLIN, this);
        _retry = new LoopTimer(new ActionTimer(Resume));
    }

    public string Path { get; }

    /// <summary>Whether accepting is suspended for lack of descriptors.</summary>
    public bool Paused => _paused;

    public void OnEvents(uint events)
    {
        while (true)
        {
            int client = Libc.accept4(_fd.Value, null, null, Libc.SOCK_CLOEXEC | Libc.SOCK_NONBLOCK);
            if (client < 0)
            {
                int e = Errno.Last;
                if (e == Errno.EINTR || e == Errno.ECONNABORTED) continue;
                if (e == Errno.EAGAIN)
                {
                    if (_exhaustedSince >= 0) EndEpisode();
                    return;
                }
                if (e is Errno.EMFILE or Errno.ENFILE or Errno.ENOBUFS or Errno.ENOMEM) Pause(e);
                else Log.Warn($"accept4 on {Path}: {Errno.Describe(e)}");
                return;
            }
            _acceptor.Accept(new OwnedFd(client));
        }
    }

    /// <summary>Every waiting client has been accepted: the episode is over.</summary>
    void EndEpisode()
    {
        Log.Warn($"accepting clients on {Path} again: every waiting client accepted after {Libc.MonotonicMs() - _exhaustedSince} ms " +
            $"out of file descriptors ({_refused} accept attempts refused)");
        _exhaustedSince = -1;
        _refused = 0;
    }

    void Pause(int errno)
    {
        _refused++;
        if (_exhaustedSince < 0)
        {
            _exhaustedSince = Libc.MonotonicMs();
            Log.Warn($"accept4 on {Path}: {Errno.Describe(errno)}: new clients wait until a file descriptor is free");
        }
        if (!_paused)
        {
            _loop.Modify(_reg, 0);
            _paused = true;
        }
        _loop.Timers.Schedule(_retry, Libc.MonotonicMs() + RetryMs);
    }

    /// <summary>A descriptor of this process was closed: try accepting again now.</summary>
    public void DescriptorFreed()
    {
        if (_paused) Resume();
    }

    void Resume()
    {
        if (!_paused) return;
        _loop.Timers.Cancel(_retry);
        _paused = false;
        _loop.Modify(_reg, Libc.EPOLLIN);
        // Accept now rather than wait for readiness: if the waiting clients are gone meanwhile, no
        // event would come, and only an accept that finds the queue empty ends the episode.
        OnEvents(Libc.EPOLLIN);
    }

    public void Dispose()
    {
        _loop.Timers.Cancel(_retry);
        _loop.Remove(_reg);
        _fd.Dispose();
    }
}
