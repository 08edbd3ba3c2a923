using System.Runtime.InteropServices;

namespace Podmon.Sys;

/// <summary>io_uring's ABI (linux/io_uring.h) and mmap; the syscalls go through native/uring.c.</summary>
public static unsafe partial class Libc
{
    public const uint IORING_SETUP_SUBMIT_ALL = 1 << 7, IORING_SETUP_SINGLE_ISSUER = 1 << 12,
        IORING_SETUP_DEFER_TASKRUN = 1 << 13;
    public const uint IORING_FEAT_SINGLE_MMAP = 1 << 0, IORING_FEAT_NODROP = 1 << 1, IORING_FEAT_EXT_ARG = 1 << 8;
    public const uint IORING_ENTER_GETEVENTS = 1 << 0, IORING_ENTER_EXT_ARG = 1 << 3;
    public const long IORING_OFF_SQ_RING = 0, IORING_OFF_SQES = 0x10000000;
    public const byte IORING_OP_WRITEV = 2, IORING_OP_FSYNC = 3, IORING_OP_POLL_ADD = 6, IORING_OP_ASYNC_CANCEL = 14,
        IORING_OP_READ = 22;
    public const byte IOSQE_BUFFER_SELECT = 1 << 5;
    public const uint IORING_POLL_ADD_MULTI = 1 << 0;
    public const uint IORING_CQE_F_BUFFER = 1 << 0, IORING_CQE_F_MORE = 1 << 1;
    public const int IORING_CQE_BUFFER_SHIFT = 16;
    public const uint IORING_REGISTER_PBUF_RING = 22;

    public const int PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20,
        MAP_POPULATE = 0x8000, MADV_DONTNEED = 4;

    [StructLayout(LayoutKind.Sequential)]
    public struct IoSqringOffsets
    {
        public uint Head, Tail, RingMask, RingEntries, Flags, Dropped, Array, Resv1;
        public ulong UserAddr;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct IoCqringOffsets
    {
        public uint Head, Tail, RingMask, RingEntries, Overflow, Cqes, Flags, Resv1;
        public ulong UserAddr;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct IoUringParams
    {
        public uint SqEntries, CqEntries, Flags, SqThreadCpu, SqThreadIdle, Features, WqFd, Resv0, Resv1, Resv2;
        public IoSqringOffsets SqOff;
        public IoCqringOffsets CqOff;
    }

    /// <summary>struct io_uring_sqe, 64 bytes; the unions are named for the fields podmon uses.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 64)]
    public struct IoUringSqe
    {
        [FieldOffset(0)] public byte Opcode;
        [FieldOffset(1)] public byte Flags;
        [FieldOffset(2)] public ushort IoPrio;
        [FieldOffset(4)] public int Fd;
        [FieldOffset(8)] public ulong Off;
        [FieldOffset(16)] public ulong Addr;
        [FieldOffset(24)] public uint Len;
        [FieldOffset(28)] public uint OpFlags;
        [FieldOffset(32)] public ulong UserData;
        [FieldOffset(40)] public ushort BufGroup;
        [FieldOffset(42)] public ushort Personality;
        [FieldOffset(44)] public int SpliceFdIn;
        [FieldOffset(48)] public ulong Addr3;
        [FieldOffset(56)] public ulong Pad;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct IoUringCqe
    {
        public ulong UserData;
        public int Res;
        public uint Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct IoUringGeteventsArg
    {
        public ulong Sigmask;
        public uint SigmaskSz;
        public uint MinWaitUsec;
        public ulong Ts;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct IoUringBufReg
    {
        public ulong RingAddr;
        public uint RingEntries;
        public ushort Bgid;
        public ushort Flags;
        public ulong Resv0, Resv1, Resv2;
    }

    /// <summary>struct io_uring_buf; the ring's tail is the ushort at byte 14 of entry 0.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct IoUringBuf
    {
        public ulong Addr;
        public uint Len;
        public ushort Bid;
        public ushort Resv;
    }

    [LibraryImport(Lib, SetLastError = true)]
    public static partial void* mmap(void* addr, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int munmap(void* addr, nuint length);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int madvise(void* addr, nuint length, int advice);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int mincore(void* addr, nuint length, byte* vec);

    public static readonly void* MAP_FAILED = (void*)-1;
}
