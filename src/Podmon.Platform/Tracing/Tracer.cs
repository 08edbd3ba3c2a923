using Podmon.Diagnostics;
using Podmon.Sys;
using Podmon.Tracing.Otlp;

namespace Podmon.Tracing;

/// <summary>
/// podmon's OpenTelemetry tracer: starts spans (children of the engine's span when the request
/// carries a traceparent, else roots of new traces) and exports the ended ones over OTLP/gRPC from
/// one background thread, as conmon-rs's batch exporter does. The resource is conmon-rs's:
/// service.name, process.pid, host.name (the uname node name); the instrumentation scope is named
/// after the binary, as conmon-rs names its tracer after its crate. Tracing off is a null
/// <c>Tracer?</c> at the caller: no thread, no queue, no allocation. Thread-safe.
/// </summary>
public sealed class Tracer : IDisposable, ISpanSink
{
    readonly TracingSettings _settings;
    readonly Wakeup _wakeup;
    readonly SpanQueue _queue;
    readonly Exporter _exporter;
    int _disposed;

    Tracer(TracingSettings settings, Action<LogLevel, string> log)
    {
        _settings = settings;
        _wakeup = new Wakeup();
        _queue = new SpanQueue(settings.MaxQueueSize, settings.MaxExportBatchSize, _wakeup);
        var encoder = new TraceRequestEncoder(settings.ServiceName, Libc.getpid(), Libc.NodeName(), settings.ScopeName);
        _exporter = new Exporter(settings, _queue, _wakeup, encoder, log);
    }

    /// <summary>Starts the exporter thread; logs through <see cref="Log"/>.</summary>
    public static Tracer Start(TracingSettings settings) => Start(settings, Log.Write);

    /// <summary>Starts the exporter thread, logging through <paramref name="log"/> (the tests read it).</summary>
    internal static Tracer Start(TracingSettings settings, Action<LogLevel, string> log)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.MaxQueueSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.MaxExportBatchSize, 1);
        var tracer = new Tracer(settings, log);
        tracer._exporter.Start();
        log(LogLevel.Info, $"tracing: exporting spans over OTLP/gRPC to {settings.Endpoint} (from {settings.EndpointSource})");
        log(LogLevel.Debug, $"tracing: {settings}");
        return tracer;
    }

    public TracingSettings Settings => _settings;

    /// <summary>Spans dropped: queue full, refused by the collector for good, or left when stopping.</summary>
    internal long DroppedSpans => _queue.Dropped;
    internal long ExportedSpans => _exporter.ExportedSpans;
    internal int QueuedSpans => _queue.Count;
    internal int Connects => _exporter.Connects;
    internal int ExporterThreadId => _exporter.ThreadId;

    /// <summary>
    /// A span starting now: a child of <paramref name="parent"/> if it is valid (same trace id,
    /// tracestate and sampled flag; not recorded if the parent was not sampled), else the root of
    /// a new trace. After <see cref="Dispose"/> spans still get contexts but are not recorded.
    /// </summary>
    public Span StartSpan(string name, in SpanContext parent = default, SpanKind kind = SpanKind.Internal)
    {
        long start = NowUnixNanos();
        ulong hi, lo, parentId = 0;
        byte flags = SpanContext.SampledFlag;
        string? state = null;
        if (parent.IsValid)
        {
            (hi, lo, parentId) = (parent.TraceHi, parent.TraceLo, parent.SpanId);
            flags = (byte)(parent.TraceFlags & SpanContext.SampledFlag);
            state = parent.TraceState;
        }
        else
        {
            do { hi = RandomId(); lo = RandomId(); } while ((hi | lo) == 0);
        }
        ulong id;
        do { id = RandomId(); } while (id == 0);
        var context = new SpanContext(hi, lo, id, flags, state, isRemote: false);
        bool record = flags != 0 && Volatile.Read(ref _disposed) == 0;
        return new Span(record ? this : null, context, parentId, name, kind, start)
        {
            ParentIsRemote = parent.IsValid && parent.IsRemote,
        };
    }

    [ThreadStatic] static ProtoWriter? t_scratch;

    /// <summary>Encodes the span on the caller's thread (a microsecond or two, no I/O) and queues the bytes.</summary>
    void ISpanSink.Enqueue(Span span)
    {
        ProtoWriter w = t_scratch ??= new ProtoWriter(1024);
        w.Reset();
        TraceRequestEncoder.EncodeSpan(w, span);
        _queue.Add(w.Written);
        w.Reset();
        w.Trim(16 * 1024);
    }

    /// <summary>
    /// Sends what is queued, for at most <see cref="TracingSettings.ShutdownTimeout"/> (1 s), then
    /// stops the exporter thread. Spans ended later are dropped.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        TimeSpan bound = _settings.ShutdownTimeout;
        // The exporter's own deadline comes a little earlier, so the join rarely needs all of it.
        _wakeup.Stop(Libc.MonotonicMs() + (long)(bound.TotalMilliseconds * 0.9));
        _exporter.Join(bound);
    }

    /// <summary>CLOCK_REALTIME in nanoseconds since the Unix epoch (OTLP's span times).</summary>
    internal static long NowUnixNanos()
    {
        Libc.Timespec ts = Libc.RealtimeNow();
        return ts.Sec * 1_000_000_000 + ts.Nsec;
    }

    static ulong RandomId()
    {
        Span<byte> bytes = stackalloc byte[8];
        Random.Shared.NextBytes(bytes);
        return BitConverter.ToUInt64(bytes);
    }
}
