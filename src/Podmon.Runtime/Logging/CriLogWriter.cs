using Podmon.Sys;

namespace Podmon.Logging;

/// <summary>
/// The CRI (k8s-file) format, byte for byte what conmon and conmon-rs write: per line
/// "&lt;RFC3339Nano local time&gt; stdout|stderr F &lt;line&gt;\n". A piece without a newline
/// (the end of a chunk, or a line longer than one read) is tagged P and gets a newline added.
/// When a record alone would be larger than maxSize, its content is split into P records that
/// each fit (the last piece keeps the line's tag). With <see cref="GlobalMaxSize"/>, lines are
/// written whole until the records come to that many bytes, then none (conmon's
/// --log-global-size-max: it checks before each line, so the last one may go past the limit).
/// </summary>
public sealed unsafe class CriLogWriter(LogFile file) : ILogWriter
{
    const int HeaderMax = LogTime.Rfc3339Length + 8;

    ulong _written;

    /// <summary>0: no limit (<see cref="LogDriverConfig.GlobalMaxSize"/>).</summary>
    public ulong GlobalMaxSize { get; init; }

    static ReadOnlySpan<byte> Stdout => " stdout "u8;
    static ReadOnlySpan<byte> Stderr => " stderr "u8;

    public LogFile? OutputFile => file;

    public void Write(Pipe pipe, ReadOnlySpan<byte> data, in LogTime time)
    {
        Span<byte> header = stackalloc byte[HeaderMax];
        int h = time.FormatRfc3339(header);
        (pipe == Pipe.Stdout ? Stdout : Stderr).CopyTo(header[h..]);
        header = header[..(h + 8)];
        fixed (byte* _ = data) // long lines are written from where they are (LogFile.AppendInPlace) until the Flush
        {
            while (!data.IsEmpty)
            {
                int nl = data.IndexOf((byte)'\n');
                if (nl < 0)
                {
                    Record(header, data, partial: true);
                    break;
                }
                Record(header, data[..(nl + 1)], partial: false);
                data = data[(nl + 1)..];
            }
            file.Flush();
        }
    }

    void Record(ReadOnlySpan<byte> header, ReadOnlySpan<byte> line, bool partial)
    {
        if (GlobalMaxSize > 0 && _written >= GlobalMaxSize) return;
        if (file.MaxSize > 0)
        {
            int maxContent = (int)Math.Min(int.MaxValue, file.MaxSize - (ulong)header.Length - 3);
            while (line.Length > maxContent)
            {
                Emit(header, line[..maxContent], partial: true);
                line = line[maxContent..];
            }
        }
        Emit(header, line, partial);
    }

    void Emit(ReadOnlySpan<byte> header, ReadOnlySpan<byte> content, bool partial)
    {
        int size = header.Length + 2 + content.Length + (partial ? 1 : 0);
        _written += (ulong)size;
        file.BeginRecord(size);
        file.Append(header);
        file.Append(partial ? (byte)'P' : (byte)'F');
        file.Append((byte)' ');
        fixed (byte* p = content) file.AppendInPlace(p, content.Length);
        if (partial) file.Append((byte)'\n');
    }

    public void Sync() => file.Sync();

    public void Reopen() => file.Reopen();

    public void Dispose() => file.Dispose();
}
