using Podmon.Sys;

namespace Podmon.Logging;

/// <summary>
/// One log destination of a container. Runs on the loop thread; <see cref="Write"/> gets each
/// chunk read from the container as is (no line assembly across chunks, like conmon).
/// </summary>
public interface ILogWriter : IDisposable
{
    /// <summary>The file it writes to (null for journald).</summary>
    LogFile? OutputFile { get; }

    void Write(Pipe pipe, ReadOnlySpan<byte> data, in LogTime time);

    /// <summary>Makes everything written so far durable (fsync).</summary>
    void Sync();

    /// <summary>Reopens the destination by path (after an external rename, for instance).</summary>
    void Reopen();
}
