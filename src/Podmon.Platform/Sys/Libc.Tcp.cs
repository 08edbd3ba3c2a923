using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Podmon.Sys;

/// <summary>
/// TCP clients over IPv4 and IPv6 (the trace exporter's connection to its collector; the connect of
/// a port-forward and its result), numeric address parsing, poll(2) and the node name. No name resolution: the binary is static glibc, whose
/// getaddrinfo would need the NSS modules of a shared libc.
/// </summary>
public static unsafe partial class Libc
{
    public const int AF_INET6 = 10;
    public const short POLLIN = 0x1, POLLOUT = 0x4, POLLERR = 0x8, POLLHUP = 0x10, POLLNVAL = 0x20;

    /// <summary>struct sockaddr_in6; port in network byte order.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SockaddrIn6
    {
        public ushort Family;
        public ushort PortBE;
        public uint FlowInfo;
        public fixed byte Addr[16];
        public uint ScopeId;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short REvents;
    }

    /// <summary>struct utsname: six fields of 65 bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct UtsName
    {
        public fixed byte Fields[6 * 65];
    }

    [LibraryImport(Lib, EntryPoint = "connect", SetLastError = true)]
    public static partial int connect_addr(int fd, void* addr, uint len);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport(Lib, EntryPoint = "inet_pton", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int inet_pton(int af, string src, byte* dst);

    [LibraryImport(Lib, SetLastError = true)]
    private static partial int uname(UtsName* buf);

    /// <summary>The 4 (IPv4) or 16 (IPv6) bytes of a numeric address, or null if it is not one.</summary>
    public static byte[]? ParseNumericAddress(string text)
    {
        byte* buf = stackalloc byte[16];
        if (inet_pton(AF_INET, text, buf) == 1) return new ReadOnlySpan<byte>(buf, 4).ToArray();
        if (inet_pton(AF_INET6, text, buf) == 1) return new ReadOnlySpan<byte>(buf, 16).ToArray();
        return null;
    }

    /// <summary>The node name of uname(2) (what conmon-rs reports as host.name through gethostname).</summary>
    public static string NodeName()
    {
        UtsName u;
        Errno.Check(uname(&u), "uname");
        var node = new ReadOnlySpan<byte>(u.Fields + 65, 65);
        int end = node.IndexOf((byte)0);
        return System.Text.Encoding.UTF8.GetString(end < 0 ? node : node[..end]);
    }

    /// <summary>
    /// A non-blocking TCP socket (CLOEXEC, TCP_NODELAY) connecting to <paramref name="address"/>
    /// (4 or 16 bytes). The connect is started, not awaited: <paramref name="inProgress"/> says the
    /// caller must wait for POLLOUT and then read the result with <see cref="ConnectResult"/>.
    /// <paramref name="label"/> names the peer in errors ("127.0.0.1:4317").
    /// </summary>
    public static OwnedFd StartConnectTcp(ReadOnlySpan<byte> address, int port, string label, out bool inProgress)
    {
        int family = address.Length == 4 ? AF_INET : address.Length == 16 ? AF_INET6
            : throw new ArgumentException("an IPv4 or IPv6 address", nameof(address));
        var fd = OwnedFd.Check(socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP), "socket", label);
        try
        {
            int one = 1;
            setsockopt(fd.Value, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(int));
            int rc;
            if (family == AF_INET)
            {
                SockaddrIn sa = new() { Family = AF_INET, PortBE = BinaryPrimitives.ReverseEndianness((ushort)port) };
                sa.AddrBE = MemoryMarshal.Read<uint>(address);
                rc = connect_addr(fd.Value, &sa, (uint)sizeof(SockaddrIn));
            }
            else
            {
                SockaddrIn6 sa = new() { Family = AF_INET6, PortBE = BinaryPrimitives.ReverseEndianness((ushort)port) };
                address.CopyTo(new Span<byte>(sa.Addr, 16));
                rc = connect_addr(fd.Value, &sa, (uint)sizeof(SockaddrIn6));
            }
            inProgress = false;
            if (rc < 0)
            {
                int err = Errno.Last;
                if (err != Errno.EINPROGRESS && err != Errno.EINTR) throw new SyscallException("connect", err, label);
                inProgress = true;
            }
            return fd;
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>After POLLOUT on a socket whose connect was in progress: throws the connect's error, if any.</summary>
    public static void ConnectResult(int fd, string label)
    {
        int err = 0;
        uint len = sizeof(int);
        Errno.Check(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len), "getsockopt(SO_ERROR)", label);
        if (err != 0) throw new SyscallException("connect", err, label);
    }
}
