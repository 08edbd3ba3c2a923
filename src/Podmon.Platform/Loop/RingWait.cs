using Podmon.Diagnostics;
using Podmon.Sys;

namespace Podmon.Loop;

/// <summary>
/// The loop waiting on an io_uring instead of epoll_wait: io_uring_enter submits what the
/// iteration queued and sleeps until a completion or the next timer, and the epoll set is one
/// multishot poll on the ring, so readiness still arrives for every registration. A completion and
/// its next submission then cost one syscall, not an epoll_wait plus a read. If the ring fails,
/// <see cref="Ring"/> becomes null for good (the loop goes back to epoll_wait) and
/// <see cref="Failed"/> tells the ring's users to move their fds back to epoll.
/// </summary>
sealed class RingWait : IDisposable
{
    readonly EpollSet _epoll;
    readonly IoUring _owned; // kept after a failure: buffers may still be in use
    readonly EpollPoll _poll;
    string? _failure;
    int _pollCompletions; // the epoll poll's own, not counted as work done

    public RingWait(IoUring ring, EpollSet epoll)
    {
        Ring = _owned = ring;
        _epoll = epoll;
        _poll = new EpollPoll(this);
        _poll.Arm();
    }

    /// <summary>The ring, or null once it failed.</summary>
    public IoUring? Ring { get; private set; }

    /// <summary>Raised once if the ring fails at run time.</summary>
    public event Action? Failed;

    /// <summary>The multishot poll on the epoll fd: its completion means "epoll has events".</summary>
    sealed class EpollPoll(RingWait wait) : ICompletionHandler
    {
        ulong _key;

        public void Arm()
        {
            IoUring ring = wait.Ring!;
            if (_key == 0) _key = ring.Register(this);
            ref Libc.IoUringSqe sqe = ref ring.NextSqe();
            sqe.Opcode = Libc.IORING_OP_POLL_ADD;
            sqe.Fd = wait._epoll.Fd;
            sqe.Len = Libc.IORING_POLL_ADD_MULTI;
            sqe.OpFlags = Libc.EPOLLIN;
            sqe.UserData = _key;
        }

        public void OnCompletion(int res, uint flags)
        {
            wait._pollCompletions++;
            if (res < 0 && res != -Errno.ECANCELED)
            {
                wait._failure ??= $"poll on the epoll fd: {Errno.Describe(-res)}"; // after the batch: see Wait
                return;
            }
            wait._epoll.Ready = true;
            if ((flags & Libc.IORING_CQE_F_MORE) == 0 && wait.Ring is not null) Arm();
        }
    }

    /// <summary>The ring is given up: the loop continues on epoll, which may hold events already.</summary>
    public void Fail(string why)
    {
        if (Ring is null) return;
        Log.Warn($"io_uring failed ({why}): the loop continues on epoll");
        Ring = null;
        _epoll.Ready = true;
        Failed?.Invoke();
    }

    /// <summary>
    /// One io_uring_enter submits, waits and runs the ring's work; completions are dispatched, then
    /// epoll's events are fetched if the poll fired. A level-triggered fd still ready after its
    /// handler ran does not fire the poll again, so after a batch of epoll events the next
    /// iteration does not sleep: it asks epoll again first.
    /// </summary>
    /// <returns>How many completions were dispatched (epoll's events are in <see cref="EpollSet.Count"/>).</returns>
    public int Wait(int timeout, CodePageRelease codePages)
    {
        IoUring ring = Ring!;
        _epoll.Clear();
        bool block = !_epoll.Ready;
        int failed;
        if (block && codePages.TakeForWait(timeout)) failed = ring.Enter(1, timeout, releasingCode: true);
        else failed = ring.Enter(block ? 1u : 0u, block ? timeout : 0);
        _pollCompletions = 0;
        // Every completion already posted reaches its handler while the ring is still theirs (a read
        // that brought data must be delivered); a failure seen meanwhile is acted on after the batch.
        int n = ring.Dispatch() - _pollCompletions;
        if (failed != 0) _failure ??= $"io_uring_enter: {Errno.Describe(failed)}";
        if (ring.Failure != 0) _failure ??= $"io_uring_enter (submitting): {Errno.Describe(ring.Failure)}";
        if (_failure is { } why)
        {
            _failure = null;
            Fail(why);
        }
        if (!_epoll.Ready || Ring is null) return n;
        _epoll.Poll();
        _epoll.Ready = _epoll.Count > 0;
        return n;
    }

    public void Dispose()
    {
        _owned.Dispose();
        Ring = null;
    }
}
