using System.Runtime.InteropServices;

namespace Podmon.Sys;

/// <summary>The C helper linked into the binary (native/): spawning and late syscalls.</summary>
public static unsafe partial class Native
{
    const string Lib = "podmonnative";

    public const int ModeOther = 0, ModeServerForeground = 1, ModeServerDaemon = 2;

    [StructLayout(LayoutKind.Sequential)]
    public struct FdMap
    {
        public int ParentFd;
        public int ChildFd;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct SpawnArgs
    {
        public byte* Path;
        public byte** Argv;
        public byte** Envp;
        public byte* Cwd;
        public FdMap* Fds;
        public int FdCount;
        public int NewSession;
        public int PdeathSignal;
        public byte* HandoffMsg;
        public int HandoffLen;
        public int HandoffFd;
    }

    [LibraryImport(Lib, EntryPoint = "pm_spawn", SetLastError = true)]
    public static partial int Spawn(SpawnArgs* args, int* pidfd, byte** failedStep);

    [LibraryImport(Lib, EntryPoint = "pm_pidfd_open", SetLastError = true)]
    public static partial int PidfdOpen(int pid, uint flags);

    [LibraryImport(Lib, EntryPoint = "pm_pidfd_send_signal", SetLastError = true)]
    public static partial int PidfdSendSignal(int pidfd, int sig, uint flags);

    /// <summary>A signalfd for the signals the early constructor blocked (not SIGPIPE).</summary>
    [LibraryImport(Lib, EntryPoint = "pm_signalfd_blocked", SetLastError = true)]
    public static partial int SignalfdBlocked(int fd, int flags);

    [LibraryImport(Lib, EntryPoint = "pm_sigprocmask_blocked", SetLastError = true)]
    public static partial int SigprocmaskBlocked(int how);

    /// <summary>epoll_wait, after unmapping the executable's clean read-only pages (native/codepages.c).</summary>
    [LibraryImport(Lib, EntryPoint = "pm_epoll_wait_releasing_code", SetLastError = true)]
    public static partial int EpollWaitReleasingCode(int epfd, void* events, int maxEvents, int timeoutMs);

    [LibraryImport(Lib, EntryPoint = "pm_uring_setup", SetLastError = true)]
    public static partial int UringSetup(uint entries, Libc.IoUringParams* p);

    [LibraryImport(Lib, EntryPoint = "pm_uring_enter", SetLastError = true)]
    public static partial int UringEnter(int fd, uint toSubmit, uint minComplete, uint flags, void* arg, nuint argSize);

    /// <summary>io_uring_enter, after unmapping the executable's clean read-only pages (native/codepages.c).</summary>
    [LibraryImport(Lib, EntryPoint = "pm_uring_enter_releasing_code", SetLastError = true)]
    public static partial int UringEnterReleasingCode(int fd, uint toSubmit, uint minComplete, uint flags, void* arg, nuint argSize);

    [LibraryImport(Lib, EntryPoint = "pm_uring_register", SetLastError = true)]
    public static partial int UringRegister(int fd, uint opcode, void* arg, uint nrArgs);

    /// <summary>Unmounts and removes a pod's namespace pins and pause pid file (native/pause.c); best effort, idempotent.</summary>
    [LibraryImport(Lib, EntryPoint = "pm_pause_unpin", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int PauseUnpin(string basePath, string podId);
}

/// <summary>Symbols that exist only in the executable (native/early.c), not in the test library.</summary>
public static partial class EarlyNative
{
    const string Lib = "podmonnative";

    [LibraryImport(Lib, EntryPoint = "pm_startup_mode")]
    public static partial int StartupMode();

    [LibraryImport(Lib, EntryPoint = "pm_ready_fd")]
    public static partial int ReadyFd();

    /// <summary>conmon mode, started before the cgroup move: blocks until the launcher has moved this process into the engine's cgroup (native/early.c); exits if it could not.</summary>
    [LibraryImport(Lib, EntryPoint = "pm_conmon_await_go")]
    public static partial int ConmonAwaitGo();
}
