using Podmon.Diagnostics;

namespace Podmon.Tracing;

/// <summary>
/// What the log says about exports: one warning when they start failing (the collector is
/// unreachable or refuses) and one line when they work again, with the spans dropped meanwhile;
/// not one line per attempt (those are debug lines). Spans dropped while exports work (a queue
/// outrun by the callers) are reported at the next export, also once per episode.
/// </summary>
internal sealed class ExportHealth(Endpoint endpoint, int queueCapacity, Action<LogLevel, string> log)
{
    bool _failing;
    long _droppedReported;

    public bool Failing => _failing;

    /// <summary>
    /// An export failed; <paramref name="reason"/> is the whole clause ("unreachable (...)",
    /// "refused the export (...)"); the next attempt comes in <paramref name="nextAttemptMs"/> (-1: none).
    /// </summary>
    public void Failed(string reason, long droppedSoFar, long nextAttemptMs)
    {
        log(LogLevel.Debug, $"tracing: export to {endpoint} failed: collector {reason}" +
            (nextAttemptMs >= 0 ? $"; next attempt in {nextAttemptMs} ms" : ""));
        if (_failing) return;
        _failing = true;
        log(LogLevel.Warn, $"tracing: collector at {endpoint} {reason}; keeping up to {queueCapacity} spans and dropping the rest until it takes them");
    }

    public void Succeeded(long droppedSoFar)
    {
        long dropped = droppedSoFar - _droppedReported;
        if (_failing)
        {
            _failing = false;
            _droppedReported = droppedSoFar;
            log(LogLevel.Info, $"tracing: collector at {endpoint} takes spans again, dropped {dropped} spans while it did not");
        }
        else if (dropped > 0)
        {
            _droppedReported = droppedSoFar;
            log(LogLevel.Warn, $"tracing: export queue full ({queueCapacity} spans), dropped {dropped} spans");
        }
    }

    /// <summary>The tracer stopped; the spans still queued that could not be sent in time are counted in <paramref name="droppedSoFar"/>.</summary>
    public void Stopped(long droppedSoFar)
    {
        long dropped = droppedSoFar - _droppedReported;
        if (_failing)
            log(LogLevel.Warn, $"tracing: stopped while the collector at {endpoint} did not take spans, dropped {dropped} spans");
        else if (dropped > 0)
            log(LogLevel.Warn, $"tracing: stopped, dropped {dropped} spans that could not be exported in time");
    }
}
