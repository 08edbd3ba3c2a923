using System.Runtime.InteropServices;

namespace Podmon.Sys;

/// <summary>Processes, signals, prctl.</summary>
public static unsafe partial class Libc
{
    public const int SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGKILL = 9, SIGUSR1 = 10, SIGPIPE = 13,
        SIGTERM = 15, SIGCHLD = 17;
    public const int P_ALL = 0, P_PID = 1, P_PIDFD = 3;
    public const int WEXITED = 4, WNOHANG = 1, WNOWAIT = 0x01000000;
    public const int CLD_EXITED = 1, CLD_KILLED = 2, CLD_DUMPED = 3;
    public const int PR_SET_PDEATHSIG = 1, PR_SET_NAME = 15, PR_SET_CHILD_SUBREAPER = 36,
        PR_GET_CHILD_SUBREAPER = 37;
    public const int SFD_CLOEXEC = O_CLOEXEC, SFD_NONBLOCK = O_NONBLOCK;

    /// <summary>The fields of siginfo_t that waitid fills (x86-64 layout, 128 bytes).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    public struct SigInfo
    {
        [FieldOffset(0)] public int Signo;
        [FieldOffset(8)] public int Code;
        [FieldOffset(16)] public int Pid;
        [FieldOffset(20)] public uint Uid;
        [FieldOffset(24)] public int Status;
    }

    /// <summary>struct signalfd_siginfo: 128 bytes, the fields podmon reads.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    public struct SignalfdSigInfo
    {
        [FieldOffset(0)] public uint Signo;
        [FieldOffset(8)] public int Code;
        [FieldOffset(12)] public uint Pid;
        [FieldOffset(40)] public int Status;
    }

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int getpgid(int pid);

    [LibraryImport(Lib)]
    public static partial int getpgrp();

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int waitid(int idtype, int id, SigInfo* info, int options);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int kill(int pid, int sig);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport(Lib)]
    public static partial int getpid();

    [LibraryImport(Lib)]
    public static partial int gettid();

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int tgkill(int tgid, int tid, int sig);

    /// <summary>
    /// The exit code conmon and conmon-rs report: the status for a normal exit, 128 + signal
    /// for a death by signal.
    /// </summary>
    public static int ExitCode(in SigInfo info) =>
        info.Code == CLD_EXITED ? info.Status : 128 + info.Status;
}
