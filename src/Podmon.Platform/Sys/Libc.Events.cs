using System.Runtime.InteropServices;

namespace Podmon.Sys;

/// <summary>epoll, eventfd, inotify.</summary>
public static unsafe partial class Libc
{
    public const int EPOLL_CLOEXEC = O_CLOEXEC;
    public const int EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLL_CTL_MOD = 3;
    public const uint EPOLLIN = 0x1, EPOLLPRI = 0x2, EPOLLOUT = 0x4, EPOLLERR = 0x8,
        EPOLLHUP = 0x10, EPOLLRDHUP = 0x2000, EPOLLET = 0x80000000;

    public const int EFD_CLOEXEC = O_CLOEXEC, EFD_NONBLOCK = O_NONBLOCK, EFD_SEMAPHORE = 1;
    public const int CLOCK_REALTIME = 0, CLOCK_MONOTONIC = 1;
    public const int IN_CLOEXEC = O_CLOEXEC, IN_NONBLOCK = O_NONBLOCK;
    public const uint IN_MODIFY = 0x2, IN_CLOSE_WRITE = 0x8, IN_CREATE = 0x100, IN_DELETE = 0x200,
        IN_DELETE_SELF = 0x400, IN_IGNORED = 0x8000;

    /// <summary>struct epoll_event is packed on x86-64: 12 bytes.</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    public struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Timespec
    {
        public long Sec;
        public long Nsec;
    }

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int epoll_create1(int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int epoll_ctl(int epfd, int op, int fd, EpollEvent* ev);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int epoll_wait(int epfd, EpollEvent* events, int maxevents, int timeout);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int eventfd(uint initval, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int clock_gettime(int clockid, Timespec* tp);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int inotify_init1(int flags);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int inotify_add_watch(int fd, string path, uint mask);

    /// <summary>Monotonic clock in milliseconds.</summary>
    public static long MonotonicMs()
    {
        Timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.Sec * 1000 + ts.Nsec / 1_000_000;
    }
}
