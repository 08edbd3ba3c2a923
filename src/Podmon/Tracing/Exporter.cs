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
    readonly ProtoWriter _request = new(16 * 1024);
    readonly List<Span> _batch;
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
        _batch = new List<Span>(settings.MaxExportBatchSize);
        _client = new CollectorClient(settings.Endpoint, wakeup, settings.ExportTimeout, $"podmon/{BuildInfo.Version}");
        _health = new ExportHealth(settings.Endpoint, settings.MaxQueueSize, log);
        _thread = new Thread(Run) { IsBackground = true, Name = "podmon-otlp" };
    }

    public long ExportedSpans => Interlocked.Read(ref _exported);
    public int Connects => _client.Connects;
    public int ThreadId { get; private set; }

    public void Start() => _thread.Start();

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
            if (_batch.Count == 0)
            {
                int queued = _queue.Count;
                if (queued == 0) { flushAt = long.MaxValue; Sleep(long.MaxValue); continue; }
                if (queued < _settings.MaxExportBatchSize)
                {
                    if (flushAt == long.MaxValue) flushAt = now + (long)_settings.ScheduleDelay.TotalMilliseconds;
                    if (now < flushAt) { Sleep(flushAt); continue; }
                }
                _queue.Take(_batch, _settings.MaxExportBatchSize);
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
        while ((_batch.Count > 0 || _queue.Take(_batch, _settings.MaxExportBatchSize) > 0)
               && Libc.MonotonicMs() < _wakeup.StopDeadlineMs)
        {
            if (Export(_wakeup.StopDeadlineMs)) continue;
            _health.Failed(_failure!, _queue.Dropped, nextAttemptMs: -1);
            break;
        }
        _queue.Take(_batch, int.MaxValue);
        _queue.CountDropped(_batch.Count);
        _batch.Clear();
        _health.Stopped(_queue.Dropped);
        _client.Close(_wakeup.StopDeadlineMs);
    }

    /// <summary>
    /// Exports <see cref="_batch"/>; true if the collector took it, else <see cref="_failure"/> says
    /// why. A batch that must not be retried is dropped.
    /// </summary>
    bool Export(long deadlineMs)
    {
        _request.Reset(GrpcCall.PrefixSize);
        _encoder.Encode(_request, _batch);
        GrpcCall.WritePrefix(_request.WrittenMutable, _request.Length - GrpcCall.PrefixSize);
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
                    _log(LogLevel.Warn, $"tracing: the collector at {_settings.Endpoint} rejected {partial.RejectedSpans} of {_batch.Count} spans: {partial.ErrorMessage}");
                _log(LogLevel.Debug, $"tracing: exported {_batch.Count} spans ({_request.Length} bytes) to {_settings.Endpoint} in {Libc.MonotonicMs() - started} ms");
                Interlocked.Add(ref _exported, _batch.Count);
                _batch.Clear();
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
        finally
        {
            _request.Trim(1024 * 1024);
        }
        if (!retry)
        {
            _queue.CountDropped(_batch.Count);
            _batch.Clear();
        }
        _failure = reason;
        return false;
    }

    /// <summary>Waits for the doorbell until <paramref name="untilMs"/> (monotonic), or the stop deadline.</summary>
    unsafe void Sleep(long untilMs)
    {
        long left = Math.Min(untilMs, _wakeup.StopDeadlineMs) - Libc.MonotonicMs();
        if (left <= 0) return;
        var fd = new Libc.PollFd { Fd = _wakeup.Fd, Events = Libc.POLLIN };
        int n = Libc.poll(&fd, 1, untilMs == long.MaxValue ? -1 : (int)Math.Min(left, int.MaxValue));
        if (n > 0) _wakeup.Drain();
    }
}
