using System.Runtime.InteropServices;

namespace Podmon.Sys;

/// <summary>errno values podmon reacts to, and turning a failed call into an exception.</summary>
public static class Errno
{
    public const int EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, EBADF = 9, ECHILD = 10,
        EAGAIN = 11, ENOMEM = 12, EACCES = 13, EEXIST = 17, ENOTDIR = 20, EINVAL = 22, ENFILE = 23, EMFILE = 24,
        ENOTTY = 25, ENOSPC = 28, EPIPE = 32, ENAMETOOLONG = 36, ENOSYS = 38, ENOTSOCK = 88,
        EBUSY = 16, ETIME = 62, EOPNOTSUPP = 95, ECANCELED = 125,
        EADDRINUSE = 98, ECONNABORTED = 103, ECONNRESET = 104, ENOBUFS = 105, ETIMEDOUT = 110, ECONNREFUSED = 111, EINPROGRESS = 115,
        ENETUNREACH = 101, EHOSTUNREACH = 113;

    public static int Last => Marshal.GetLastPInvokeError();

    /// <summary>Throws for a negative result, otherwise passes it through.</summary>
    public static int Check(int result, string call)
    {
        if (result < 0) throw new SyscallException(call, Last);
        return result;
    }

    public static long Check(long result, string call)
    {
        if (result < 0) throw new SyscallException(call, Last);
        return result;
    }

    public static long Check(long result, string call, string detail)
    {
        if (result < 0) throw new SyscallException(call, Last, detail);
        return result;
    }

    public static int Check(int result, string call, string detail)
    {
        if (result < 0) throw new SyscallException(call, Last, detail);
        return result;
    }

    /// <summary>"No such file or directory (ENOENT)".</summary>
    public static string Describe(int errno)
    {
        string text = Libc.StrError(errno);
        string? name = Name(errno);
        return name is null ? $"{text} (errno {errno})" : $"{text} ({name})";
    }

    public static string? Name(int errno) => errno switch
    {
        EPERM => "EPERM", ENOENT => "ENOENT", ESRCH => "ESRCH", EINTR => "EINTR", EIO => "EIO",
        EBADF => "EBADF", ECHILD => "ECHILD", EAGAIN => "EAGAIN", ENOMEM => "ENOMEM",
        EACCES => "EACCES", EEXIST => "EEXIST", ENOTDIR => "ENOTDIR", EINVAL => "EINVAL",
        EMFILE => "EMFILE", ENFILE => "ENFILE", ENOTTY => "ENOTTY", ENOSPC => "ENOSPC", EPIPE => "EPIPE",
        ENAMETOOLONG => "ENAMETOOLONG", ENOSYS => "ENOSYS", ENOTSOCK => "ENOTSOCK",
        EADDRINUSE => "EADDRINUSE", ECONNABORTED => "ECONNABORTED", ECONNRESET => "ECONNRESET", ENOBUFS => "ENOBUFS", ETIMEDOUT => "ETIMEDOUT",
        ECONNREFUSED => "ECONNREFUSED", EINPROGRESS => "EINPROGRESS", ENETUNREACH => "ENETUNREACH", EHOSTUNREACH => "EHOSTUNREACH", EBUSY => "EBUSY", ETIME => "ETIME",
        EOPNOTSUPP => "EOPNOTSUPP", ECANCELED => "ECANCELED",
        _ => null,
    };
}
