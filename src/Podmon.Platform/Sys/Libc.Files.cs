using System.Runtime.InteropServices;

namespace Podmon.Sys;

/// <summary>libc, bound at link time (DirectPInvoke): files, pipes, fds.</summary>
public static unsafe partial class Libc
{
    const string Lib = "libc";

    public const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0x40, O_EXCL = 0x80,
        O_NOCTTY = 0x100, O_TRUNC = 0x200, O_APPEND = 0x400, O_NONBLOCK = 0x800,
        O_DIRECTORY = 0x10000, O_NOFOLLOW = 0x20000, O_CLOEXEC = 0x80000, O_PATH = 0x200000;
    public const int F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, F_SETPIPE_SZ = 1031, FD_CLOEXEC = 1,
        F_DUPFD_CLOEXEC = 1030;

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags, int mode);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint read(int fd, byte* buf, nuint count);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint write(int fd, byte* buf, nuint count);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int pipe2(int* fds, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int fcntl(int fd, int cmd, int arg);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, void* arg);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int dup3(int oldfd, int newfd, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int fsync(int fd);

    [LibraryImport(Lib)]
    public static partial uint umask(uint mask);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int unlink(string path);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mkdir(string path, uint mode);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rename(string from, string to);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int chmod(string path, uint mode);

    [LibraryImport(Lib, EntryPoint = "strerror")]
    private static partial byte* strerror_raw(int errnum);

    public static string StrError(int errno) =>
        Marshal.PtrToStringUTF8((nint)strerror_raw(errno)) ?? $"errno {errno}";

    public static OwnedFd[] Pipe(int flags = O_CLOEXEC)
    {
        int* fds = stackalloc int[2];
        Errno.Check(pipe2(fds, flags), "pipe2");
        return [new OwnedFd(fds[0]), new OwnedFd(fds[1])];
    }

    public static void SetNonBlocking(int fd)
    {
        int flags = Errno.Check(fcntl(fd, F_GETFL, 0), "fcntl(F_GETFL)");
        Errno.Check(fcntl(fd, F_SETFL, flags | O_NONBLOCK), "fcntl(F_SETFL)");
    }

    /// <summary>Writes the whole span (blocking fds), retrying on EINTR and short writes.</summary>
    public static void WriteAll(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            int done = 0;
            while (done < data.Length)
            {
                nint n = write(fd, p + done, (nuint)(data.Length - done));
                if (n < 0)
                {
                    int e = Errno.Last;
                    if (e == Errno.EINTR) continue;
                    throw new SyscallException("write", e);
                }
                done += (int)n;
            }
        }
    }
}

/// <summary>File sizes, truncation, file systems.</summary>
public static unsafe partial class Libc
{
    public const int SEEK_SET = 0, SEEK_END = 2;
    public const long CGROUP2_SUPER_MAGIC = 0x63677270;
    const int StatfsSize = 120;

    [LibraryImport(Lib, SetLastError = true)]
    public static partial long lseek(int fd, long offset, int whence);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int ftruncate(int fd, long length);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statfs(string path, byte* buf);

    /// <summary>f_type of the file system at <paramref name="path"/>.</summary>
    public static long FileSystemType(string path)
    {
        byte* buf = stackalloc byte[StatfsSize];
        Errno.Check(statfs(path, buf), "statfs", path);
        return *(long*)buf;
    }

    /// <summary>Reads into the span (non-blocking fds: -1 with errno on EAGAIN), retrying EINTR.</summary>
    public static nint Read(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            while (true)
            {
                nint n = read(fd, p, (nuint)buffer.Length);
                if (n >= 0 || Errno.Last != Errno.EINTR) return n;
            }
        }
    }
}

public static unsafe partial class Libc
{
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mkfifo(string path, int mode);
}
