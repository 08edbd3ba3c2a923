using System.Runtime.InteropServices;

namespace Podmon.Sys;

/// <summary>AF_UNIX sockets, fd passing.</summary>
public static unsafe partial class Libc
{
    public const int AF_UNIX = 1;
    public const int SOCK_STREAM = 1, SOCK_DGRAM = 2, SOCK_SEQPACKET = 5,
        SOCK_NONBLOCK = O_NONBLOCK, SOCK_CLOEXEC = O_CLOEXEC;
    public const int SOL_SOCKET = 1, SO_PEERCRED = 17, SO_SNDBUF = 7, SO_RCVBUF = 8, SO_SNDTIMEO = 21, SCM_RIGHTS = 1;
    public const int MSG_NOSIGNAL = 0x4000, MSG_DONTWAIT = 0x40, MSG_CMSG_CLOEXEC = 0x40000000,
        MSG_TRUNC = 0x20, MSG_CTRUNC = 0x8, MSG_PEEK = 0x2;
    public const int SHUT_RD = 0, SHUT_WR = 1, SHUT_RDWR = 2;
    public const int SunPathLength = 108;

    [StructLayout(LayoutKind.Sequential)]
    public struct SockaddrUn
    {
        public ushort Family;
        public fixed byte Path[SunPathLength];
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLen;
        public IoVec* Iov;
        public nuint IovLen;
        public void* Control;
        public nuint ControlLen;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct CmsgHdr
    {
        public nuint Len;
        public int Level;
        public int Type;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct UCred
    {
        public int Pid;
        public uint Uid;
        public uint Gid;
    }

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int socketpair(int domain, int type, int protocol, int* sv);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int bind(int fd, SockaddrUn* addr, uint len);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int connect(int fd, SockaddrUn* addr, uint len);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int listen(int fd, int backlog);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int accept4(int fd, void* addr, uint* len, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint sendmsg(int fd, MsgHdr* msg, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint recvmsg(int fd, MsgHdr* msg, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint send(int fd, byte* buf, nuint len, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint recv(int fd, byte* buf, nuint len, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int shutdown(int fd, int how);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int getsockopt(int fd, int level, int name, void* value, uint* len);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int setsockopt(int fd, int level, int name, void* value, uint len);
}
