using System.Text;

namespace Podmon.Sys;

/// <summary>AF_UNIX helpers: binding paths longer than sun_path, passing fds.</summary>
public static unsafe class UnixSocket
{
    /// <summary>
    /// Creates a listening socket at <paramref name="path"/> with the given permissions, and its
    /// missing parent directories (0777 less the umask), as conmon-rs does for every socket it
    /// binds: CRI-O asks for &lt;sandbox dir&gt;/&lt;ctr id&gt;/attach before that directory exists.
    /// Paths longer than the 108-byte sun_path go through /proc/self/fd/N/name of the open parent.
    /// </summary>
    public static OwnedFd Listen(string path, int type, uint mode, int backlog = 128)
    {
        var fd = OwnedFd.Check(Libc.socket(Libc.AF_UNIX, type | Libc.SOCK_CLOEXEC | Libc.SOCK_NONBLOCK, 0), "socket");
        try
        {
            if (Path.GetDirectoryName(path) is { Length: > 0 } parent) Directory.CreateDirectory(parent);
            WithShortPath(path, (fd, mode), static (state, addr, len) =>
            {
                Errno.Check(Libc.bind(state.fd.Value, addr, len), "bind");
                return 0;
            });
            Errno.Check(Libc.chmod(path, mode), "chmod", path);
            Errno.Check(Libc.listen(fd.Value, backlog), "listen");
            return fd;
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>Connects a blocking client socket (tests, tools).</summary>
    public static OwnedFd Connect(string path, int type = Libc.SOCK_STREAM)
    {
        var fd = OwnedFd.Check(Libc.socket(Libc.AF_UNIX, type | Libc.SOCK_CLOEXEC, 0), "socket");
        try
        {
            WithShortPath(path, fd, static (fd, addr, len) =>
            {
                Errno.Check(Libc.connect(fd.Value, addr, len), "connect");
                return 0;
            });
            return fd;
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    delegate int AddrAction<T>(T state, Libc.SockaddrUn* addr, uint len);

    static void WithShortPath<T>(string path, T state, AddrAction<T> action)
    {
        using var reachable = new ShortPath(path, "self");
        Libc.SockaddrUn addr = default;
        addr.Family = Libc.AF_UNIX;
        int n = Encoding.UTF8.GetBytes(reachable.Value, new Span<byte>(addr.Path, Libc.SunPathLength - 1));
        action(state, &addr, (uint)(sizeof(ushort) + n + 1));
    }

    /// <summary>Sends bytes with fds attached (SCM_RIGHTS).</summary>
    public static int SendWithFds(int socket, ReadOnlySpan<byte> data, ReadOnlySpan<int> fds)
    {
        int controlLen = CmsgSpace(fds.Length * sizeof(int));
        byte* control = stackalloc byte[controlLen];
        new Span<byte>(control, controlLen).Clear();
        var cmsg = (Libc.CmsgHdr*)control;
        cmsg->Len = (nuint)(sizeof(Libc.CmsgHdr) + fds.Length * sizeof(int));
        cmsg->Level = Libc.SOL_SOCKET;
        cmsg->Type = Libc.SCM_RIGHTS;
        fds.CopyTo(new Span<int>(control + sizeof(Libc.CmsgHdr), fds.Length));
        fixed (byte* p = data)
        {
            byte dummy = 0;
            var iov = new Libc.IoVec { Base = data.IsEmpty ? &dummy : p, Length = (nuint)Math.Max(1, data.Length) };
            var msg = new Libc.MsgHdr { Iov = &iov, IovLen = 1, Control = control, ControlLen = (nuint)controlLen };
            return (int)Errno.Check((long)Libc.sendmsg(socket, &msg, Libc.MSG_NOSIGNAL), "sendmsg");
        }
    }

    /// <summary>
    /// Receives bytes and up to <paramref name="fds"/>.Length fds (made CLOEXEC). Returns the byte
    /// count; <paramref name="fdCount"/> says how many fds arrived.
    /// </summary>
    public static int ReceiveWithFds(int socket, Span<byte> data, Span<int> fds, out int fdCount)
    {
        nint n = ReceiveMessage(socket, data, fds, Libc.MSG_CMSG_CLOEXEC, out fdCount, out _);
        return (int)Errno.Check((long)n, "recvmsg");
    }

    /// <summary>
    /// One recvmsg with room for <paramref name="fds"/>.Length fds, collected from every
    /// SCM_RIGHTS message (pass MSG_CMSG_CLOEXEC in <paramref name="flags"/>); fds beyond the span
    /// are closed, never leaked. Returns recvmsg's result (negative: see <see cref="Errno.Last"/>,
    /// no fds then) and the message's flags (MSG_TRUNC, MSG_CTRUNC).
    /// </summary>
    public static nint ReceiveMessage(int socket, Span<byte> data, Span<int> fds, int flags, out int fdCount, out int msgFlags)
    {
        int controlLen = CmsgSpace(Math.Max(1, fds.Length) * sizeof(int));
        byte* control = stackalloc byte[controlLen];
        fdCount = 0;
        msgFlags = 0;
        fixed (byte* p = data)
        {
            var iov = new Libc.IoVec { Base = p, Length = (nuint)data.Length };
            var msg = new Libc.MsgHdr { Iov = &iov, IovLen = 1, Control = control, ControlLen = (nuint)controlLen };
            nint n = Libc.recvmsg(socket, &msg, flags);
            if (n < 0) return n;
            msgFlags = msg.Flags;
            nuint offset = 0;
            while (offset + (nuint)sizeof(Libc.CmsgHdr) <= msg.ControlLen)
            {
                var cmsg = (Libc.CmsgHdr*)(control + offset);
                if (cmsg->Len < (nuint)sizeof(Libc.CmsgHdr) || offset + cmsg->Len > msg.ControlLen) break;
                if (cmsg->Level == Libc.SOL_SOCKET && cmsg->Type == Libc.SCM_RIGHTS)
                {
                    int count = (int)(cmsg->Len - (nuint)sizeof(Libc.CmsgHdr)) / sizeof(int);
                    var received = new ReadOnlySpan<int>(control + offset + (nuint)sizeof(Libc.CmsgHdr), count);
                    for (int i = 0; i < count; i++)
                    {
                        if (fdCount < fds.Length) fds[fdCount++] = received[i];
                        else Libc.close(received[i]);
                    }
                }
                offset += (cmsg->Len + 7) & ~(nuint)7;
            }
            return n;
        }
    }

    public static Libc.UCred PeerCredentials(int socket)
    {
        Libc.UCred cred;
        uint len = (uint)sizeof(Libc.UCred);
        Errno.Check(Libc.getsockopt(socket, Libc.SOL_SOCKET, Libc.SO_PEERCRED, &cred, &len), "getsockopt(SO_PEERCRED)");
        return cred;
    }

    static int CmsgSpace(int dataLen) => sizeof(Libc.CmsgHdr) + ((dataLen + 7) & ~7);
}

/// <summary>
/// A socket path that fits the 108-byte sun_path: the path itself, or for a longer one
/// /proc/&lt;self|pid&gt;/fd/N/name, N an O_PATH fd of its directory held open until disposed.
/// "self" serves this process's own bind/connect; a pid serves another process (the runtime
/// dialing a console socket) for as long as the fd stays open.
/// </summary>
public sealed class ShortPath : IDisposable
{
    readonly OwnedFd? _dir;

    public string Value { get; }

    public ShortPath(string path, string process)
    {
        Value = path;
        if (Encoding.UTF8.GetByteCount(path) < Libc.SunPathLength) return;
        string parent = Path.GetDirectoryName(path) ?? "/";
        _dir = OwnedFd.Check(Libc.open(parent, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0), "open", parent);
        Value = $"/proc/{process}/fd/{_dir.Value}/{Path.GetFileName(path)}";
        if (Encoding.UTF8.GetByteCount(Value) >= Libc.SunPathLength)
        {
            _dir.Dispose();
            throw new SyscallException("bind", Errno.ENAMETOOLONG, path);
        }
    }

    public void Dispose() => _dir?.Dispose();
}
