using System.Runtime.InteropServices;

namespace Podmon.Sys;

/// <summary>AF_INET (TCP on the loopback) for the streaming server and port-forward, and getrandom(2).</summary>
public static unsafe partial class Libc
{
    public const int AF_INET = 2;
    public const int IPPROTO_TCP = 6, TCP_NODELAY = 1, SO_ERROR = 4;
    public const uint INADDR_LOOPBACK = 0x7f000001;

    /// <summary>struct sockaddr_in; port and address in network byte order.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SockaddrIn
    {
        public ushort Family;
        public ushort PortBE;
        public uint AddrBE;
        public ulong Zero;

        public static SockaddrIn Loopback(int port) => new()
        {
            Family = AF_INET,
            PortBE = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness((ushort)port),
            AddrBE = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(INADDR_LOOPBACK),
        };

        public int Port => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(PortBE);
    }

    [LibraryImport(Lib, EntryPoint = "bind", SetLastError = true)]
    public static partial int bind_in(int fd, SockaddrIn* addr, uint len);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int getsockname(int fd, void* addr, uint* len);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint writev(int fd, IoVec* iov, int count);

    [LibraryImport(Lib, SetLastError = true)]
    private static partial nint getrandom(byte* buf, nuint len, uint flags);

    /// <summary>Fills <paramref name="buffer"/> from the kernel's CSPRNG (blocks only before the pool is first seeded).</summary>
    public static void GetRandom(Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            int done = 0;
            while (done < buffer.Length)
            {
                nint n = getrandom(p + done, (nuint)(buffer.Length - done), 0);
                if (n < 0)
                {
                    if (Errno.Last == Errno.EINTR) continue;
                    throw new SyscallException("getrandom", Errno.Last);
                }
                done += (int)n;
            }
        }
    }

    /// <summary>A non-blocking TCP socket listening on 127.0.0.1 at a port the kernel chose; returns the port.</summary>
    public static OwnedFd ListenLoopback(out int port)
    {
        var fd = OwnedFd.Check(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), "socket(AF_INET)");
        try
        {
            SockaddrIn addr = SockaddrIn.Loopback(0);
            Errno.Check(bind_in(fd.Value, &addr, (uint)sizeof(SockaddrIn)), "bind", "127.0.0.1:0");
            Errno.Check(listen(fd.Value, 128), "listen", "127.0.0.1");
            uint len = (uint)sizeof(SockaddrIn);
            Errno.Check(getsockname(fd.Value, &addr, &len), "getsockname");
            port = addr.Port;
            return fd;
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }
}
