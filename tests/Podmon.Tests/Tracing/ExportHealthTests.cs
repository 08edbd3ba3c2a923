using Podmon.Diagnostics;
using Podmon.Tracing;

namespace Podmon.Tests.Tracing;

/// <summary>What the log says about exports: one line when they start failing, one when they work again, with the count.</summary>
public class ExportHealthTests
{
    readonly List<(LogLevel Level, string Text)> _log = [];

    ExportHealth Health() => new(Endpoint.Parse("10.0.0.1:4317", "x"), 2048, (l, m) => _log.Add((l, m)));

    List<string> Lines(LogLevel level) => [.. _log.Where(l => l.Level == level).Select(l => l.Text)];

    [Fact]
    public void AFailureEpisodeIsOneWarningAndOneRecoveryWithTheDrops()
    {
        ExportHealth h = Health();
        h.Succeeded(droppedSoFar: 0);
        h.Failed("unreachable (connect 10.0.0.1:4317: Connection refused (ECONNREFUSED))", 0, nextAttemptMs: 1000);
        h.Failed("unreachable (connect 10.0.0.1:4317: Connection refused (ECONNREFUSED))", 300, nextAttemptMs: 2000);
        h.Failed("refused the export (grpc-status 14 UNAVAILABLE)", 700, nextAttemptMs: 4000);
        Assert.True(h.Failing);
        h.Succeeded(droppedSoFar: 900);
        Assert.False(h.Failing);
        h.Succeeded(droppedSoFar: 900);
        Assert.Equal(["tracing: collector at 10.0.0.1:4317 unreachable (connect 10.0.0.1:4317: Connection refused (ECONNREFUSED)); " +
            "keeping up to 2048 spans and dropping the rest until it takes them"], Lines(LogLevel.Warn));
        Assert.Equal(["tracing: collector at 10.0.0.1:4317 takes spans again, dropped 900 spans while it did not"], Lines(LogLevel.Info));
        Assert.Equal(3, Lines(LogLevel.Debug).Count); // every attempt, at debug
        Assert.EndsWith("; next attempt in 4000 ms", Lines(LogLevel.Debug)[2]);
    }

    [Fact]
    public void DropsWhileExportsWorkAreReportedAtTheNextExportOnce()
    {
        ExportHealth h = Health();
        h.Succeeded(droppedSoFar: 40);
        h.Succeeded(droppedSoFar: 40);
        h.Succeeded(droppedSoFar: 45);
        Assert.Equal(["tracing: export queue full (2048 spans), dropped 40 spans", "tracing: export queue full (2048 spans), dropped 5 spans"],
            Lines(LogLevel.Warn));
    }

    [Fact]
    public void StoppingSaysWhatWasLost()
    {
        ExportHealth h = Health();
        h.Stopped(droppedSoFar: 0);
        Assert.Empty(_log);
        h.Stopped(droppedSoFar: 3);
        Assert.Equal(["tracing: stopped, dropped 3 spans that could not be exported in time"], Lines(LogLevel.Warn));
        _log.Clear();
        h.Failed("unreachable (x)", 3, -1);
        h.Stopped(droppedSoFar: 10);
        Assert.Equal("tracing: stopped while the collector at 10.0.0.1:4317 did not take spans, dropped 10 spans", Lines(LogLevel.Warn)[^1]);
        Assert.DoesNotContain("next attempt", Lines(LogLevel.Debug)[0]);
    }
}
