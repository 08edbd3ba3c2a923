using System.Globalization;
using System.Text;
using Podmon.Logging;
using Podmon.Sys;

namespace Podmon.ConmonCli;

/// <summary>
/// The pipes podman and CRI-O hand a conmon: sync (_OCI_SYNCPIPE, monitor → engine: the pid, an
/// error, an exec's exit code), start (_OCI_STARTPIPE, engine → monitor: go-ahead bytes) and
/// attach (_OCI_ATTACHPIPE, exec: the attach socket is ready). SEQPACKET from podman, plain pipes
/// or stream socketpairs from CRI-O; a closed reader (EPIPE) is ignored as conmon ignores it.
/// The key of every message depends on the caller's dialect (conmon's write_sync_fd): "data"
/// with --api-version (podman), otherwise "exit_code" in an exec monitor and "pid" in a
/// container's (CRI-O, which decodes exactly those keys and reads a missing one as 0).
/// </summary>
sealed class SyncPipe
{
    public int SyncFd { get; }
    public int StartFd { get; }
    public int AttachFd { get; }

    SyncPipe(int sync, int start, int attach)
    {
        SyncFd = sync;
        StartFd = start;
        AttachFd = attach;
    }

    /// <summary>The fds named by the environment, made CLOEXEC so the runtime never inherits them.</summary>
    public static SyncPipe FromEnvironment()
    {
        var p = new SyncPipe(EnvFd("_OCI_SYNCPIPE"), EnvFd("_OCI_STARTPIPE"), EnvFd("_OCI_ATTACHPIPE"));
        foreach (int fd in (ReadOnlySpan<int>)[p.SyncFd, p.StartFd, p.AttachFd])
            if (fd >= 0) Libc.fcntl(fd, Libc.F_SETFD, Libc.FD_CLOEXEC);
        return p;
    }

    static int EnvFd(string name) =>
        Environment.GetEnvironmentVariable(name) is { } v && int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int fd) ? fd : -1;

    public bool Owns(int fd) => fd == SyncFd || fd == StartFd || fd == AttachFd;

    /// <summary>The sync pipe's key; "data" until the command line says otherwise (<see cref="UseDialect"/>).</summary>
    public string Key { get; private set; } = "data";

    /// <summary>Picks the key as conmon does from --api-version and --exec.</summary>
    public void UseDialect(int apiVersion, bool exec) => Key = KeyFor(apiVersion, exec);

    public static string KeyFor(int apiVersion, bool exec) => apiVersion >= 1 ? "data" : exec ? "exit_code" : "pid";

    /// <summary>`{"KEY": N}` or `{"KEY": N, "message": "…"}` on the sync pipe.</summary>
    public void Report(int value, string? message = null) => Write(SyncFd, Key, value, message);

    /// <summary>exec: the attach socket exists (`{"data": 0}` on the attach pipe: --exec-attach needs --api-version).</summary>
    public void AttachReady() => Write(AttachFd, Key, 0, null);

    /// <summary>exec --exec-attach: blocks until the engine has connected to the attach socket (its second start byte).</summary>
    public unsafe void WaitForStart()
    {
        if (StartFd < 0) return;
        byte* b = stackalloc byte[8192]; // a whole SEQPACKET record
        while (Libc.read(StartFd, b, 8192) < 0 && Errno.Last == Errno.EINTR) { }
    }

    /// <summary>One message as conmon writes it, newline-terminated; an empty message is left out, as conmon leaves it out.</summary>
    public static string Message(string key, int value, string? message)
    {
        var sb = new StringBuilder("{\"").Append(key).Append("\": ").Append(value.ToString(CultureInfo.InvariantCulture));
        if (!string.IsNullOrEmpty(message)) sb.Append(", \"message\": ").Append(JsonEscape.Quote(message));
        return sb.Append("}\n").ToString();
    }

    /// <summary>One write (a SEQPACKET record); EPIPE and other failures are ignored.</summary>
    static unsafe void Write(int fd, string key, int value, string? message)
    {
        if (fd < 0) return;
        byte[] b = Encoding.UTF8.GetBytes(Message(key, value, message));
        fixed (byte* p = b)
            while (Libc.write(fd, p, (nuint)b.Length) < 0 && Errno.Last == Errno.EINTR) { }
    }
}
