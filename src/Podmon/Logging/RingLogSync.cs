using Podmon.Diagnostics;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Logging;

/// <summary>
/// The fsync of a container's log files at its exit, on the loop's io_uring (IORING_OP_FSYNC,
/// which the kernel runs on its io-wq workers): the loop goes on serving the pod's other
/// containers and clients while the disk catches up, instead of stopping for each file, and
/// <c>done</c> (the exit files) runs once every file is durable. A sync failure is logged as
/// <see cref="ContainerLog.Sync"/> logs it. If the ring fails meanwhile, the files are synced
/// here the blocking way and <c>done</c> still runs once.
/// </summary>
sealed class RingLogSync : ICompletionHandler
{
    readonly EventLoop _loop;
    readonly IoUring _ring;
    readonly LogFile[] _files;
    readonly Action _done;
    readonly ulong _key;
    int _pending;
    bool _finished;

    RingLogSync(EventLoop loop, IoUring ring, LogFile[] files, Action done)
    {
        _loop = loop;
        _ring = ring;
        _files = files;
        _done = done;
        _key = ring.Register(this);
    }

    public static void Start(EventLoop loop, IoUring ring, LogFile[] files, Action done)
    {
        var sync = new RingLogSync(loop, ring, files, done);
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
        loop.RingFailed += sync.SyncBlocking;
    }

    public void OnCompletion(int res, uint flags)
    {
        if (res < 0) Log.Error($"container log sync: fsync: {Errno.Describe(-res)}");
        if (--_pending == 0) Finish();
    }

    void SyncBlocking()
    {
        foreach (LogFile f in _files)
        {
            try { f.Sync(); }
            catch (Exception e) { Log.Error($"container log sync: {ErrorText.Describe(e)}"); }
        }
        Finish();
    }

    void Finish()
    {
        if (_finished) return;
        _finished = true;
        _loop.RingFailed -= SyncBlocking;
        _ring.Unregister(_key);
        _done();
    }
}
