namespace Podmon.Sys;

/// <summary>A failed system call: the call's name and the errno it returned.</summary>
public sealed class SyscallException(string call, int errno, string? detail = null)
    : Exception(Format(call, errno, detail))
{
    public string Call { get; } = call;
    public int Errno { get; } = errno;

    static string Format(string call, int errno, string? detail) =>
        detail is null
            ? $"{call}: {Sys.Errno.Describe(errno)}"
            : $"{call} {detail}: {Sys.Errno.Describe(errno)}";
}
