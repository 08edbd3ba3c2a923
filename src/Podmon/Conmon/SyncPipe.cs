using System.Globalization;
using System.Text;
using Podmon.Logging;
using Podmon.Sys;

namespace Podmon.ConmonCli;

/// <summary>
/// The pipes podman and CRI-O hand a conmon: sync (_OCI_SYNCPIPE, monitor → engine: the pid, an
/// error, an exec's exit code), start (_OCI_STARTPIPE, engine → monitor: go-ahead bytes) and
/// attach (_OCI_ATTACHPIPE, exec: the attach socket is ready). SEQPACKET from podman, plain pipes
/// from CRI-O; a closed reader (EPIPE) is ignored as conmon ignores it.
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

    /// <summary>`{"data": N}` or `{"data": N, "message": "…"}` on the sync pipe.</summary>
    public void Report(int data, string? message = null) => Write(SyncFd, data, message);

    /// <summary>exec: the attach socket exists (`{"data": 0}` on the attach pipe).</summary>
    public void AttachReady() => Write(AttachFd, 0, null);

    /// <summary>exec --exec-attach: blocks until the engine has connected to the attach socket (its second start byte).</summary>
    public unsafe void WaitForStart()
    {
        if (StartFd < 0) return;
        byte* b = stackalloc byte[8192]; // a whole SEQPACKET record
        while (Libc.read(StartFd, b, 8192) < 0 && Errno.Last == Errno.EINTR) { }
    }

    /// <summary>One message as conmon writes it, newline-terminated.</summary>
    public static string Message(int data, string? message)
    {
        var sb = new StringBuilder("{\"data\": ").Append(data.ToString(CultureInfo.InvariantCulture));
        if (message is not null) sb.Append(", \"message\": ").Append(JsonEscape.Quote(message));
        return sb.Append("}\n").ToString();
    }

    /// <summary>One write (a SEQPACKET record); EPIPE and other failures are ignored.</summary>
    public static unsafe void Write(int fd, int data, string? message)
    {
        if (fd < 0) return;
        byte[] b = Encoding.UTF8.GetBytes(Message(data, message));
        fixed (byte* p = b)
            while (Libc.write(fd, p, (nuint)b.Length) < 0 && Errno.Last == Errno.EINTR) { }
    }
}
