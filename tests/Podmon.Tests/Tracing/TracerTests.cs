using System.Collections.Concurrent;
using System.Globalization;
using Podmon.Diagnostics;
using Podmon.Sys;
using Podmon.Tracing;

namespace Podmon.Tests.Tracing;

/// <summary>The tracer without a collector: span identity, sampling, the exporter thread's signal mask, a collector that refuses connections.</summary>
public class TracerTests
{
    /// <summary>A port on 127.0.0.1 where nothing listens (the kernel picked it, then it was closed).</summary>
    static int ClosedPort()
    {
        using OwnedFd fd = Libc.ListenLoopback(out int port);
        return port;
    }

    static (Tracer Tracer, ConcurrentQueue<(LogLevel, string)> Log) Start(int queue = 8, int batch = 4)
    {
        var log = new ConcurrentQueue<(LogLevel, string)>();
        var settings = new TracingSettings
        {
            Endpoint = Endpoint.Parse($"127.0.0.1:{ClosedPort()}", "test"),
            ServiceName = "podmon-test",
            MaxQueueSize = queue,
            MaxExportBatchSize = batch,
            ScheduleDelay = TimeSpan.FromMilliseconds(10),
            RetryInitialDelay = TimeSpan.FromMilliseconds(50),
            RetryMaxDelay = TimeSpan.FromMilliseconds(50),
        };
        return (Tracer.Start(settings, (l, m) => log.Enqueue((l, m))), log);
    }

    static void WaitFor(Func<bool> condition, string what)
    {
        for (int i = 0; i < 1000 && !condition(); i++) Thread.Sleep(10);
        Assert.True(condition(), $"not within 10 s: {what}");
    }

    [Fact]
    public void RootsStartTracesAndChildrenKeepThem()
    {
        (Tracer t, _) = Start();
        using (t)
        {
            Span root = t.StartSpan("root");
            Span other = t.StartSpan("other");
            Assert.True(root.Context.IsValid);
            Assert.NotEqual(root.Context.TraceIdHex, other.Context.TraceIdHex);
            Assert.True(root.IsRecording);
            Span child = t.StartSpan("child", root.Context, SpanKind.Client);
            Assert.Equal(root.Context.TraceIdHex, child.Context.TraceIdHex);
            Assert.NotEqual(root.Context.SpanIdHex, child.Context.SpanIdHex);
            Assert.Equal(root.Context.SpanId, child.ParentSpanId);
            Assert.False(child.ParentIsRemote);
            Assert.Equal(SpanKind.Client, child.Kind);
        }
    }

    [Fact]
    public void ARemoteParentGivesTraceStateAndSamplingDecision()
    {
        (Tracer t, _) = Start();
        using (t)
        {
            Assert.True(SpanContext.TryParseTraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", out SpanContext sampled));
            Span s = t.StartSpan("rpc", sampled.WithTraceState("k=v"), SpanKind.Server);
            Assert.Equal("4bf92f3577b34da6a3ce929d0e0e4736", s.Context.TraceIdHex);
            Assert.Equal(0x00f067aa0ba902b7UL, s.ParentSpanId);
            Assert.Equal("k=v", s.Context.TraceState);
            Assert.True(s.ParentIsRemote);
            Assert.False(s.Context.IsRemote);
            Assert.True(s.IsRecording);

            Assert.True(SpanContext.TryParseTraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", out SpanContext unsampled));
            Span u = t.StartSpan("rpc", unsampled);
            Assert.False(u.IsRecording); // ParentBased(AlwaysOn): an unsampled parent's child is not recorded
            Assert.False(u.Context.IsSampled);
            Assert.True(u.Context.IsValid); // but it still has a context to pass on
            long before = t.DroppedSpans + t.QueuedSpans;
            u.End();
            Assert.Equal(before, t.DroppedSpans + t.QueuedSpans);
        }
    }

    [Fact]
    public void TheExporterThreadBlocksTheSignalsPodmonReadsFromItsSignalfd()
    {
        (Tracer t, _) = Start();
        using (t)
        {
            WaitFor(() => t.ExporterThreadId != 0, "the exporter thread runs");
            WaitFor(() => SigBlk(t.ExporterThreadId) != 0, "the exporter thread blocks its signals");
            ulong blocked = SigBlk(t.ExporterThreadId);
            foreach (int sig in new[] { Libc.SIGCHLD, Libc.SIGTERM, Libc.SIGINT, Libc.SIGQUIT, Libc.SIGHUP, Libc.SIGPIPE })
                Assert.True((blocked & 1UL << (sig - 1)) != 0, $"signal {sig} is not blocked on the exporter thread (SigBlk {blocked:x16})");
            Assert.Equal("podmon-otlp", File.ReadAllText($"/proc/self/task/{t.ExporterThreadId}/comm").Trim());
        }
    }

    static ulong SigBlk(int tid)
    {
        foreach (string line in File.ReadLines($"/proc/self/task/{tid}/status"))
            if (line.StartsWith("SigBlk:", StringComparison.Ordinal))
                return ulong.Parse(line[7..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        return 0;
    }

    [Fact]
    public void ACollectorThatRefusesConnectionsCostsAQueueAndOneWarning()
    {
        (Tracer t, ConcurrentQueue<(LogLevel Level, string Text)> log) = Start(queue: 8, batch: 4);
        for (int i = 0; i < 100; i++) t.StartSpan($"s{i}").End();
        WaitFor(() => log.Any(l => l.Text.Contains("next attempt")), "a failed export");
        Assert.True(t.QueuedSpans <= 8);
        WaitFor(() => log.Count(l => l.Text.Contains("next attempt")) >= 3, "three failed exports");
        t.Dispose();
        Assert.Equal(0, t.ExportedSpans);
        Assert.Equal(100, t.DroppedSpans); // all: queue full, then the rest at the stop
        (LogLevel Level, string Text) warning = Assert.Single(log, l => l.Level == LogLevel.Warn && l.Text.Contains("unreachable"));
        Assert.Matches(@"^tracing: collector at 127\.0\.0\.1:\d+ unreachable \(connect 127\.0\.0\.1:\d+: Connection refused \(ECONNREFUSED\)\); keeping up to 8 spans and dropping the rest until it takes them$", warning.Text);
        Assert.Single(log, l => l.Text == "tracing: stopped while the collector at " + t.Settings.Endpoint + " did not take spans, dropped 100 spans");
        Assert.Equal(0, t.QueuedSpans);
        t.StartSpan("after").End(); // after Dispose: not recorded, no fault
        Assert.False(t.StartSpan("after").IsRecording);
        t.Dispose(); // idempotent
    }
}
