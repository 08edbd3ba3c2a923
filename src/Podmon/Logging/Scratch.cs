namespace Podmon.Logging;

/// <summary>
/// Per-thread (in practice: the loop thread's) reusable buffers: one for reading container
/// output, one for formatting log records. Every user finishes with them before returning, so
/// one pair serves all containers: no per-container or per-read buffers.
/// </summary>
public static class Scratch
{
    public const int Size = 64 * 1024;

    [ThreadStatic] static byte[]? t_read;
    [ThreadStatic] static byte[]? t_format;

    public static byte[] ReadBuffer => t_read ??= GC.AllocateUninitializedArray<byte>(Size, pinned: true);

    public static byte[] FormatBuffer => t_format ??= GC.AllocateUninitializedArray<byte>(Size, pinned: true);
}
