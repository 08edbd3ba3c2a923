namespace Podmon.Tracing.Http2;

/// <summary>
/// A byte stream with deadlines, what the HTTP/2 client runs on: a call waits at most until the
/// deadline (monotonic milliseconds, <see cref="Podmon.Sys.Libc.MonotonicMs"/>) and then throws
/// <see cref="TimeoutException"/>; a closed or failed stream throws <see cref="IOException"/> or
/// <see cref="Podmon.Sys.SyscallException"/>.
/// </summary>
public interface IByteChannel : IDisposable
{
    /// <summary>At least one byte, or 0 at the end of the stream.</summary>
    int Read(Span<byte> buffer, long deadlineMs);

    /// <summary>Whether a read would return at once (data, the end of the stream or an error), without waiting.</summary>
    bool Readable();

    /// <summary>All of <paramref name="data"/>.</summary>
    void Write(ReadOnlySpan<byte> data, long deadlineMs);
}
