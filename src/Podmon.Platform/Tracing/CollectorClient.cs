using Podmon.Sys;
using Podmon.Tracing.Grpc;
using Podmon.Tracing.Http2;

namespace Podmon.Tracing;

/// <summary>
/// The exporter's link to its collector: TraceService/Export calls on one HTTP/2 connection, kept
/// for every export while it works, and opened again (addresses looked up again) after it broke,
/// the peer sent GOAWAY or the stream ids ran out. Used by the exporter thread only.
/// </summary>
internal sealed class CollectorClient(Endpoint endpoint, Wakeup wakeup, TimeSpan timeout, string userAgent) : IDisposable
{
    public const string ExportPath = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

    readonly GrpcCall _call = new(endpoint.Authority, ExportPath, userAgent, timeout);
    Http2Connection? _connection;

    /// <summary>Connections opened so far (the tests check reuse).</summary>
    public int Connects { get; private set; }

    /// <summary>
    /// One export of <paramref name="framedRequest"/> (gRPC prefix included). Transport failures
    /// throw (<see cref="IOException"/>, <see cref="SyscallException"/>, <see cref="TimeoutException"/>,
    /// <see cref="Http2Exception"/>, <see cref="HpackException"/>) and drop the connection.
    /// </summary>
    public GrpcStatus Export(ReadOnlySpan<byte> framedRequest, long deadlineMs, out byte[] response)
    {
        _connection?.ProcessPending(deadlineMs);
        if (_connection is { IsUsable: false } stale)
        {
            stale.Close(graceful: true, Math.Min(deadlineMs, Libc.MonotonicMs() + 100));
            _connection = null;
        }
        bool reused = _connection is not null;
        _connection ??= Connect(deadlineMs);
        try
        {
            return _call.Invoke(_connection, framedRequest, deadlineMs, out response);
        }
        catch (Exception e) when (e is not Http2Exception { StreamOnly: true })
        {
            _connection.Dispose();
            _connection = null;
            // A kept connection the peer closed or sent away (GOAWAY before our stream) just now
            // failed through no fault of the collector: once more on a new one, as gRPC does.
            if (!reused || e is TimeoutException || e is Http2Exception { Retryable: false } || e is HpackException) throw;
        }
        _connection = Connect(deadlineMs);
        try
        {
            return _call.Invoke(_connection, framedRequest, deadlineMs, out response);
        }
        catch (Exception e) when (e is not Http2Exception { StreamOnly: true })
        {
            _connection.Dispose();
            _connection = null;
            throw;
        }
    }

    Http2Connection Connect(long deadlineMs)
    {
        IReadOnlyList<byte[]> addresses = endpoint.Resolve();
        Exception? last = null;
        foreach (byte[] address in addresses)
        {
            string peer = addresses.Count == 1 && Libc.ParseNumericAddress(endpoint.Host) is not null
                ? endpoint.Authority : $"{endpoint.Authority} ({Format(address)})";
            try
            {
                SocketChannel channel = SocketChannel.Connect(address, endpoint.Port, peer, wakeup, deadlineMs);
                Connects++;
                return Http2Connection.Open(channel, deadlineMs);
            }
            catch (SyscallException e)
            {
                last = e; // the next address, if any
            }
        }
        throw last!;
    }

    static string Format(byte[] a)
    {
        if (a.Length == 4) return $"{a[0]}.{a[1]}.{a[2]}.{a[3]}";
        var s = new System.Text.StringBuilder();
        for (int i = 0; i < 16; i += 2) s.Append(i == 0 ? "" : ":").Append((a[i] << 8 | a[i + 1]).ToString("x"));
        return s.ToString();
    }

    /// <summary>Between exports: the connection's buffers shrink to their idle sizes.</summary>
    public void ReleaseBuffers() => _connection?.ReleaseBuffers();

    /// <summary>Closes the connection, with a GOAWAY if there is time until <paramref name="deadlineMs"/>.</summary>
    public void Close(long deadlineMs)
    {
        _connection?.Close(graceful: true, deadlineMs);
        _connection = null;
    }

    public void Dispose() => Close(0);
}
