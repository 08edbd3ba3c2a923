using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Podmon.Sys;

/// <summary>
/// Per-thread (in practice: the loop thread's) reusable buffers: one for reading (container
/// output, forwarded ports), one for formatting (log records). Every user finishes with them
/// before returning, so one pair serves all containers and connections: no per-container or
/// per-read buffers. In the platform layer because the runtime's parts (Containers, Logging,
/// Streaming) share it.
/// </summary>
public static unsafe class Scratch
{
    public const int Size = 64 * 1024;
    public const int IoVecCount = 64;

    [ThreadStatic] static byte[]? t_read;
    [ThreadStatic] static byte[]? t_format;
    [ThreadStatic] static Libc.IoVec* t_iov;

    public static byte[] ReadBuffer => t_read ??= GC.AllocateUninitializedArray<byte>(Size, pinned: true);

    public static byte[] FormatBuffer => t_format ??= GC.AllocateUninitializedArray<byte>(Size, pinned: true);

    /// <summary>The format buffer's address (it is pinned).</summary>
    public static byte* FormatBufferPointer => (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(FormatBuffer));

    /// <summary><see cref="IoVecCount"/> iovecs for gathering a write (LogFile).</summary>
    public static Libc.IoVec* IoVecs => t_iov is not null ? t_iov : t_iov = (Libc.IoVec*)NativeMemory.Alloc(IoVecCount, (nuint)sizeof(Libc.IoVec));
}
