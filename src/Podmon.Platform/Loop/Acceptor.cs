using Podmon.Diagnostics;
using Podmon.Sys;

namespace Podmon.Loop;

/// <summary>
/// A listening socket on the loop, the one accept path of every podmon listener (the RPC and fd
/// sockets, attach sockets, console sockets, the streaming server): accepts pending clients
/// (CLOEXEC, NONBLOCK) and hands each to its owner. Out of descriptors (EMFILE, ENFILE, ENOBUFS,
/// ENOMEM) it stops watching the socket, because a level-triggered listener with a waiting client
/// would otherwise wake the loop for ever: clients wait in the backlog and are accepted once a
/// descriptor is free (<see cref="DescriptorFreed"/>) or at the next retry. One warning per
/// episode, and one line when it ends (no client waits any more).
/// </summary>
public sealed unsafe class Acceptor : IEventHandler, IDisposable
{
    /// <summary>Retry interval while out of descriptors (an fd may be freed by something we are not told of).</summary>
    const int RetryMs = 100;

    readonly EventLoop _loop;
    readonly OwnedFd _socket;
    readonly Action<OwnedFd> _accepted;
    readonly int _perEvent;
    readonly Registration _reg;
    readonly LoopTimer _retry;
    bool _paused, _disposed;
    long _exhaustedSince = -1; // monotonic ms of the episode's first failure; -1 = none
    long _refused; // accept failures in this episode

    /// <param name="socket">a listening socket, now owned by the acceptor</param>
    /// <param name="name">what the log lines call it (the socket's path or address)</param>
    /// <param name="accepted">takes each accepted client; it may dispose the acceptor</param>
    /// <param name="perEvent">clients accepted per wake-up at most (the rest wait for the next one)</param>
    public Acceptor(EventLoop loop, OwnedFd socket, string name, Action<OwnedFd> accepted, int perEvent = int.MaxValue)
    {
        _loop = loop;
        _socket = socket;
        Name = name;
        _accepted = accepted;
        _perEvent = perEvent;
        _reg = loop.Add(socket.Value, Libc.EPOLLIN, this);
        _retry = new LoopTimer(new ActionTimer(Resume));
    }

    public string Name { get; }

    /// <summary>Whether accepting is suspended for lack of descriptors.</summary>
    public bool Paused => _paused;

    public void OnEvents(uint events) => AcceptPending();

    /// <summary>Accepts what waits now (also called outside of events, e.g. while polling for a console).</summary>
    public void AcceptPending()
    {
        for (int i = 0; i < _perEvent && !_disposed && !_paused; i++)
        {
            int client = Libc.accept4(_socket.Value, null, null, Libc.SOCK_CLOEXEC | Libc.SOCK_NONBLOCK);
            if (client >= 0)
            {
                _accepted(new OwnedFd(client));
                continue;
            }
            int e = Errno.Last;
            if (e is Errno.EINTR or Errno.ECONNABORTED) continue;
            if (e == Errno.EAGAIN)
            {
                if (_exhaustedSince >= 0) EndEpisode();
                return;
            }
            if (e is Errno.EMFILE or Errno.ENFILE or Errno.ENOBUFS or Errno.ENOMEM) Pause(e);
            else Log.Warn($"accept4 on {Name}: {Errno.Describe(e)}");
            return;
        }
    }

    /// <summary>Every waiting client has been accepted: the episode is over.</summary>
    void EndEpisode()
    {
        Log.Warn($"accepting clients on {Name} again: every waiting client accepted after {Libc.MonotonicMs() - _exhaustedSince} ms " +
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
            Log.Warn($"accept4 on {Name}: {Errno.Describe(errno)}: new clients wait until a file descriptor is free");
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
        if (!_paused || _disposed) return;
        _loop.Timers.Cancel(_retry);
        _paused = false;
        _loop.Modify(_reg, Libc.EPOLLIN);
        // Accept now rather than wait for readiness: if the waiting clients are gone meanwhile, no
        // event would come, and only an accept that finds the queue empty ends the episode.
        AcceptPending();
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _loop.Timers.Cancel(_retry);
        _loop.Remove(_reg);
        _socket.Dispose();
    }
}
