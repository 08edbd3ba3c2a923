using Podmon.Diagnostics;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Logging;

/// <summary>
/// The fsync of a container's log files at its exit, on the loop's io_uring (IORING_OP_FSYNC,
/// which the kernel runs on its io-wq workers): the loop goes on serving the pod's other
/// containers and clients while the disk catches up, instead of stopping for each file, and
/// <c>done</c> (the exit files) runs once every file is durable. A sync failure is logged as
/// <see cref="ContainerLog.Sync()"/> logs it. If the ring fails meanwhile, the files are synced
/// the blocking way (<c>syncBlocking</c>) and <c>done</c> still runs once.
/// </summary>
sealed class RingLogSync : ICompletionHandler
{
    readonly EventLoop _loop;
    readonly IoUring _ring;
    readonly Action _syncBlocking, _done;
    readonly ulong _key;
    int _pending;
    bool _finished;

    RingLogSync(EventLoop loop, IoUring ring, Action syncBlocking, Action done)
    {
        _loop = loop;
        _ring = ring;
        _syncBlocking = syncBlocking;
        _done = done;
        _key = ring.Register(this);
    }

    public static void Start(EventLoop loop, IoUring ring, IEnumerable<LogFile> files, Action syncBlocking, Action done)
    {
        var sync = new RingLogSync(loop, ring, syncBlocking, done);
        foreach (LogFile f in files)
        {
            int fd;
            try { fd = f.FlushForSync(); }
            catch (Exception e)
            {
                Log.Error($"container log sync: {ErrorText.Describe(e)}");
                continue;
            }
            ref Libc.IoUringSqe sqe = ref ring.NextSqe();
            sqe.Opcode = Libc.IORING_OP_FSYNC;
            sqe.Fd = fd;
            sqe.UserData = sync._key;
            sync._pending++;
        }
        if (sync._pending == 0)
        {
            sync.Finish();
            return;
        }
        loop.RingFailed += sync.RingFailed;
    }

    public void OnCompletion(int res, uint flags)
    {
        if (res < 0) Log.Error($"container log sync: fsync: {Errno.Describe(-res)}");
        if (--_pending == 0) Finish();
    }

    void RingFailed()
    {
        _syncBlocking();
        Finish();
    }

    void Finish()
    {
        if (_finished) return;
        _finished = true;
        _loop.RingFailed -= RingFailed;
        _ring.Unregister(_key);
        _done();
    }
}
