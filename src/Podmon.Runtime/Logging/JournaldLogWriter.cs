using System.Text;
using Podmon.Sys;

namespace Podmon.Logging;

/// <summary>
/// Container output to the journal (<see cref="JournalSocket"/>), one entry per line with the
/// fields conmon sends: MESSAGE, PRIORITY 6 for stdout and 3 for stderr, CONTAINER_ID,
/// CONTAINER_ID_FULL, CONTAINER_PARTIAL_MESSAGE=true for a piece without a newline. MESSAGE is
/// sent straight from the read buffer.
/// </summary>
public sealed class JournaldLogWriter : ILogWriter
{
    readonly JournalSocket _journal;
    readonly byte[] _stdoutFields, _stderrFields;
    bool _reported;

    static ReadOnlySpan<byte> PartialField => "CONTAINER_PARTIAL_MESSAGE=true\n"u8;

    JournaldLogWriter(JournalSocket journal, string containerId, IReadOnlyList<string> extraFields)
    {
        _journal = journal;
        string ids = $"CONTAINER_ID={containerId[..Math.Min(12, containerId.Length)]}\nCONTAINER_ID_FULL={containerId}\n";
        foreach (string f in extraFields) ids += f + "\n";
        _stdoutFields = new byte[Encoding.UTF8.GetByteCount(ids) + 11];
        _stderrFields = new byte[_stdoutFields.Length];
        "PRIORITY=6\n"u8.CopyTo(_stdoutFields);
        "PRIORITY=3\n"u8.CopyTo(_stderrFields);
        Encoding.UTF8.GetBytes(ids, _stdoutFields.AsSpan(11));
        Encoding.UTF8.GetBytes(ids, _stderrFields.AsSpan(11));
    }

    /// <summary>Connects to the journal; a missing socket is an error here, at create time.</summary>
    public static JournaldLogWriter Open(string socketPath, string containerId, IReadOnlyList<string>? extraFields = null)
    {
        try { return new JournaldLogWriter(JournalSocket.Open(socketPath), containerId, extraFields ?? []); }
        catch (IOException e) { throw new IOException($"journald log driver: {e.Message}", e); }
    }

    public LogFile? OutputFile => null;

    public void Write(Pipe pipe, ReadOnlySpan<byte> data, in LogTime time)
    {
        byte[] fields = pipe == Pipe.Stdout ? _stdoutFields : _stderrFields;
        while (!data.IsEmpty)
        {
            int nl = data.IndexOf((byte)'\n');
            ReadOnlySpan<byte> line = nl < 0 ? data : data[..nl];
            data = nl < 0 ? default : data[(nl + 1)..];
            if (!_journal.Send(fields, line, nl < 0 ? PartialField : default) && !_reported)
            {
                _reported = true;
                Diagnostics.Log.Error($"journald log driver: {Errno.Describe(Errno.Last)}; further failures are not reported");
            }
        }
    }

    public void Sync() { }

    public void Reopen() { }

    public void Dispose() => _journal.Dispose();
}
