using Podmon.Diagnostics;
using Podmon.Sys;
using Podmon.Tracing.Grpc;
using Podmon.Tracing.Http2;
using Podmon.Tracing.Otlp;

namespace Podmon.Tracing;

/// <summary>
/// The one exporter thread (OpenTelemetry's batch span processor and OTLP/gRPC exporter in one):
/// it sleeps until the queue holds a full batch or its first span is ScheduleDelay old, then
/// encodes up to MaxExportBatchSize spans and exports them, synchronously, with ExportTimeout.
/// A failed export is retried with doubling backoff if OTLP calls the failure retryable (the
/// connection failed, or UNAVAILABLE and its kin), else its spans are dropped; either way the next
/// attempt waits out the backoff, so a refusing collector is never hammered. Meanwhile the queue
/// keeps at most MaxQueueSize spans. The thread blocks the signals podmon reads from its signalfd
/// (a thread inherits its creator's mask, but the tracer may be started from any thread).
/// </summary>
internal sealed class Exporter
{
    readonly TracingSettings _settings;
    readonly SpanQueue _queue;
    readonly Wakeup _wakeup;
    readonly TraceRequestEncoder _encoder;
    readonly CollectorClient _client;
    readonly ExportHealth _health;
    readonly Action<LogLevel, string> _log;
    readonly ProtoWriter _request = new(IdleBufferBytes); // the batch being exported (or held for its retry), as sent
    int _batchCount; // spans in _request
    bool _released;
    const int IdleBufferBytes = 4096, IdleReleaseMs = 1000;
    readonly Thread _thread;
    long _exported;
    string? _failure;

    public Exporter(TracingSettings settings, SpanQueue queue, Wakeup wakeup, TraceRequestEncoder encoder, Action<LogLevel, string> log)
    {
        _settings = settings;
        _queue = queue;
        _wakeup = wakeup;
        _encoder = encoder;
        _log = log;
        _client = new CollectorClient(settings.Endpoint, wakeup, settings.ExportTimeout, settings.UserAgent);
        _health = new ExportHealth(settings.Endpoint, settings.MaxQueueSize, log);
        _thread = new Thread(Run) { IsBackground = true, Name = "podmon-otlp" };
    }

    public long ExportedSpans => Interlocked.Read(ref _exported);
    public int Connects => _client.Connects;
    public int ThreadId { get; private set; }

    /// <summary>Starts the thread without capturing the caller's ExecutionContext (nothing of it is used; it would link AsyncLocal's machinery).</summary>
    public void Start() => _thread.UnsafeStart();

    public bool Join(TimeSpan timeout) => _thread.Join(timeout);

    void Run()
    {
        ThreadId = Libc.gettid();
        Native.SigprocmaskBlocked(0 /* SIG_BLOCK */);
        try
        {
            Loop();
        }
        catch (Exception e)
        {
            _log(LogLevel.Error, $"tracing: the exporter stopped: {e.Message}");
        }
        finally
        {
            _queue.Close();
            _client.Dispose();
            _wakeup.Close();
        }
    }

    void Loop()
    {
        long flushAt = long.MaxValue, retryAt = 0;
        TimeSpan backoff = _settings.RetryInitialDelay;
        while (!_wakeup.Stopping)
        {
            long now = Libc.MonotonicMs();
            if (now < retryAt) { Sleep(retryAt); continue; } // after a failure, whether its batch is held or dropped
            if (_batchCount == 0)
            {
                int queued = _queue.Count;
                if (queued == 0)
                {
                    flushAt = long.MaxValue;
                    if (!_released && Sleep(now + IdleReleaseMs)) continue;
                    ReleaseBuffers();
                    Sleep(long.MaxValue);
                    continue;
                }
                _released = false;
                if (queued < _settings.MaxExportBatchSize)
                {
                    if (flushAt == long.MaxValue) flushAt = now + (long)_settings.ScheduleDelay.TotalMilliseconds;
                    if (now < flushAt) { Sleep(flushAt); continue; }
                }
                TakeBatch();
                flushAt = long.MaxValue;
            }
            if (Export(now + (long)_settings.ExportTimeout.TotalMilliseconds))
            {
                backoff = _settings.RetryInitialDelay;
                continue;
            }
            _health.Failed(_failure!, _queue.Dropped, nextAttemptMs: (long)backoff.TotalMilliseconds);
            retryAt = Libc.MonotonicMs() + (long)backoff.TotalMilliseconds;
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _settings.RetryMaxDelay.Ticks));
        }
        Drain();
    }

    /// <summary>The tracer is stopping: what is queued goes out while the stop deadline allows, one try per batch.</summary>
    void Drain()
    {
        _queue.Close();
        while ((_batchCount > 0 || TakeBatch() > 0)
               && Libc.MonotonicMs() < _wakeup.StopDeadlineMs)
        {
            if (Export(_wakeup.StopDeadlineMs)) continue;
            _health.Failed(_failure!, _queue.Dropped, nextAttemptMs: -1);
            break;
        }
        _queue.CountDropped(_batchCount);
        _queue.DropAll();
        DropBatch();
        _health.Stopped(_queue.Dropped);
        _client.Close(_wakeup.StopDeadlineMs);
    }

    /// <summary>The next batch, straight from the queue into the request (gRPC prefix, resource, scope, spans); returns its size.</summary>
    int TakeBatch()
    {
        _request.Reset(GrpcCall.PrefixSize);
        TraceRequestEncoder.Marks marks = _encoder.Begin(_request);
        _batchCount = _queue.Take(_request, _settings.MaxExportBatchSize);
        _encoder.End(_request, marks);
        GrpcCall.WritePrefix(_request.WrittenMutable, _request.Length - GrpcCall.PrefixSize);
        return _batchCount;
    }

    /// <summary>
    /// Exports the request; true if the collector took it, else <see cref="_failure"/> says why. A
    /// batch that must not be retried is dropped; any other stays for the retry, as it is.
    /// </summary>
    bool Export(long deadlineMs)
    {
        long started = Libc.MonotonicMs();
        string reason;
        bool retry;
        try
        {
            GrpcStatus status = _client.Export(_request.Written, deadlineMs, out byte[] response);
            if (status.IsOk)
            {
                PartialSuccess partial = PartialSuccess.Parse(response);
                if (partial.RejectedSpans > 0 || partial.ErrorMessage is { Length: > 0 })
                    _log(LogLevel.Warn, $"tracing: the collector at {_settings.Endpoint} rejected {partial.RejectedSpans} of {_batchCount} spans: {partial.ErrorMessage}");
                _log(LogLevel.Debug, $"tracing: exported {_batchCount} spans ({_request.Length} bytes) to {_settings.Endpoint} in {Libc.MonotonicMs() - started} ms");
                Interlocked.Add(ref _exported, _batchCount);
                DropBatch();
                _health.Succeeded(_queue.Dropped);
                return true;
            }
            reason = $"refused the export ({status})";
            retry = status.Retryable;
        }
        catch (TimeoutException e)
        {
            reason = $"unreachable ({(_wakeup.Stopping ? e.Message : $"no answer within {_settings.ExportTimeout.TotalSeconds:0.###} s")})";
            retry = true;
        }
        catch (Exception e) when (e is IOException or SyscallException or Http2Exception or HpackException)
        {
            reason = $"unreachable ({e.Message})";
            retry = e is not Http2Exception { Retryable: false };
        }
        if (!retry)
        {
            _queue.CountDropped(_batchCount);
            DropBatch();
        }
        _failure = reason;
        return false;
    }

    void DropBatch()
    {
        _batchCount = 0;
        _request.Reset();
        _request.Trim(SpanQueue.KeepBytes);
    }

    /// <summary>
    /// Nothing queued for a second: the buffers a burst grew go (podmon is idle most of the time),
    /// to be grown again by the next burst (not at every empty queue: regrowing large buffers
    /// between batches would leave garbage only a full GC takes).
    /// </summary>
    void ReleaseBuffers()
    {
        _released = true;
        _request.Trim(IdleBufferBytes);
        _queue.ReleaseIfEmpty();
        _client.ReleaseBuffers();
    }

    /// <summary>Waits for the doorbell until <paramref name="untilMs"/> (monotonic), or the stop deadline; true if it rang.</summary>
    unsafe bool Sleep(long untilMs)
    {
        long left = Math.Min(untilMs, _wakeup.StopDeadlineMs) - Libc.MonotonicMs();
        if (left <= 0) return false;
        var fd = new Libc.PollFd { Fd = _wakeup.Fd, Events = Libc.POLLIN };
        int n = Libc.poll(&fd, 1, untilMs == long.MaxValue ? -1 : (int)Math.Min(left, int.MaxValue));
        if (n <= 0) return false;
        _wakeup.Drain();
        return true;
    }
}
