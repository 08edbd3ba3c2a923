using System.Text.Json;
using System.Text.RegularExpressions;
using Podmon.Diagnostics;
using Podmon.Sys;
using Podmon.Tracing;

namespace Podmon.IntegrationTests.Tracing;

/// <summary>
/// The tracer in this process against otlp_receiver.py (grpcio): what arrives, and what a collector
/// that is down, stalled, refusing or recycling its connections costs.
/// </summary>
public class TracerExportTests
{
    static Dictionary<string, JsonElement> Attrs(JsonElement span, string field = "attributes") =>
        span.GetProperty(field).EnumerateObject().ToDictionary(p => p.Name, p => p.Value);

    [Fact]
    public void SpansArriveWithTheirIdsParentsAttributesAndResource()
    {
        using var receiver = OtlpReceiver.Start();
        var h = new TracerHarness(receiver.Port, batch: 4, delayMs: 20);
        Assert.True(SpanContext.TryParseTraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", out SpanContext remote));
        Span rpc = h.Tracer.StartSpan("CreateContainer", remote.WithTraceState("congo=t61rcWkgMzE"), SpanKind.Server);
        rpc.SetAttribute("container.id", "c1");
        rpc.SetAttribute("pid", 4242L);
        rpc.SetAttribute("terminal", true);
        Span child = h.Tracer.StartSpan("runc create", rpc.Context, SpanKind.Client);
        child.SetError("exit status 1");
        child.End();
        rpc.End();
        for (int i = 0; i < 10; i++) h.Tracer.StartSpan($"root{i}").End();
        h.Dispose();

        List<JsonElement> spans = receiver.WaitForSpans(12);
        Assert.Equal(12, spans.Count);
        JsonElement server = Assert.Single(spans, s => s.GetProperty("name").GetString() == "CreateContainer");
        JsonElement client = Assert.Single(spans, s => s.GetProperty("name").GetString() == "runc create");
        Assert.Equal("4bf92f3577b34da6a3ce929d0e0e4736", server.GetProperty("trace_id").GetString());
        Assert.Equal("00f067aa0ba902b7", server.GetProperty("parent_span_id").GetString());
        Assert.Equal(rpc.Context.SpanIdHex, server.GetProperty("span_id").GetString());
        Assert.Equal("congo=t61rcWkgMzE", server.GetProperty("trace_state").GetString());
        Assert.Equal(2, server.GetProperty("kind").GetInt32());
        Assert.Equal(0x301, server.GetProperty("flags").GetInt32());
        Dictionary<string, JsonElement> a = Attrs(server);
        Assert.Equal("c1", a["container.id"].GetString());
        Assert.Equal(4242, a["pid"].GetInt64());
        Assert.True(a["terminal"].GetBoolean());
        Assert.Equal(0, server.GetProperty("status").GetProperty("code").GetInt32());

        Assert.Equal("4bf92f3577b34da6a3ce929d0e0e4736", client.GetProperty("trace_id").GetString());
        Assert.Equal(rpc.Context.SpanIdHex, client.GetProperty("parent_span_id").GetString());
        Assert.Equal(3, client.GetProperty("kind").GetInt32());
        Assert.Equal(2, client.GetProperty("status").GetProperty("code").GetInt32());
        Assert.Equal("exit status 1", client.GetProperty("status").GetProperty("message").GetString());

        foreach (JsonElement s in spans)
        {
            Dictionary<string, JsonElement> r = Attrs(s, "resource");
            Assert.Equal("podmon", r["service.name"].GetString());
            Assert.Equal(Environment.ProcessId, r["process.pid"].GetInt64());
            Assert.Equal(Libc.NodeName(), r["host.name"].GetString());
            Assert.Equal("podmon", s.GetProperty("scope").GetString());
            long start = s.GetProperty("start_time_unix_nano").GetInt64(), end = s.GetProperty("end_time_unix_nano").GetInt64();
            Assert.InRange(start, DateTimeOffset.UtcNow.AddMinutes(-5).ToUnixTimeMilliseconds() * 1_000_000, end);
        }
        Assert.Equal(10, spans.Count(s => s.GetProperty("parent_span_id").GetString() == ""));
        Assert.Equal(10, spans.Select(s => s.GetProperty("trace_id").GetString()).Distinct().Count() - 1);
        Assert.Equal(1, h.Tracer.Connects); // several exports, one connection
        receiver.WaitForCalls(3); // 12 spans in batches of 4 at most
        Assert.Empty(h.Lines(LogLevel.Warn));
    }

    [Fact]
    public void ACollectorDownAtStartThenUpGetsTheLaterSpansAndTheDropsAreReportedOnce()
    {
        int port = OtlpReceiver.FreePort();
        using var h = new TracerHarness(port, queue: 20, batch: 5, delayMs: 20, retryMs: 50, retryMaxMs: 200);
        for (int i = 0; i < 100; i++) h.Tracer.StartSpan($"down{i}").End();
        h.WaitFor(() => h.Log.Count(l => l.Text.Contains("next attempt")) >= 2, "two failed exports");

        using var receiver = OtlpReceiver.Start(port);
        h.WaitFor(() => h.Lines(LogLevel.Info).Any(l => l.Contains("takes spans again")), "the collector is back");
        h.WaitFor(() => h.Tracer.QueuedSpans == 0, "the queue is emptied"); // so none of the later spans is dropped
        for (int i = 0; i < 10; i++) h.Tracer.StartSpan($"up{i}").End();
        List<JsonElement> spans = receiver.WaitForSpans(s => s.Count(x => x.GetProperty("name").GetString()!.StartsWith("up")) == 10, "the 10 later spans");

        int downArrived = spans.Count(s => s.GetProperty("name").GetString()!.StartsWith("down"));
        long dropped = h.Tracer.DroppedSpans;
        Assert.Equal(100, downArrived + dropped);
        Assert.InRange(dropped, 100 - 20 - 5, 100 - 20); // the queue's 20 and the held batch's 5 at most survive
        string warning = Assert.Single(h.Lines(LogLevel.Warn));
        Assert.Matches($@"^tracing: collector at 127\.0\.0\.1:{port} unreachable \(connect 127\.0\.0\.1:{port}: Connection refused \(ECONNREFUSED\)\)", warning);
        string back = Assert.Single(h.Lines(LogLevel.Info), l => l.Contains("takes spans again"));
        Assert.Equal($"tracing: collector at 127.0.0.1:{port} takes spans again, dropped {dropped} spans while it did not", back);
    }

    [Fact]
    public void AStalledCollectorNeverHoldsTheCallerAndTheQueueStaysCapped()
    {
        using var receiver = OtlpReceiver.Start(0, "--mode", "stall");
        var h = new TracerHarness(receiver.Port, queue: 50, batch: 10, delayMs: 10, timeoutMs: 500, retryMs: 100, retryMaxMs: 100);
        h.Tracer.StartSpan("first").End();
        h.WaitFor(() => receiver.Calls.Count >= 1, "the first export reaches the stalled collector");
        // The exporter now waits for an answer that never comes; the callers go on.
        for (int i = 0; i < 10_000; i++) h.Tracer.StartSpan($"s{i}").End();
        Assert.True(h.Tracer.QueuedSpans <= 50);
        Assert.Equal(0, h.Tracer.ExportedSpans);
        Assert.InRange(h.Tracer.DroppedSpans, 10_000 - 50, 10_000);
        h.WaitFor(() => h.Log.Any(l => l.Text.Contains("unreachable (no answer within 0.5 s)")), "the export times out");
        h.Dispose(); // bounded even with a stalled export in flight
        Assert.Empty(receiver.Spans());
        Assert.Equal(10_001, h.Tracer.DroppedSpans);
    }

    [Fact]
    public void ANonRetryableStatusDropsTheBatchLogsOnceAndIsNotRetried()
    {
        using var receiver = OtlpReceiver.Start(0, "--mode", "error", "--code", "INVALID_ARGUMENT", "--message", "bad span ✗");
        var h = new TracerHarness(receiver.Port, queue: 100, batch: 10, delayMs: 1000, retryMs: 50, retryMaxMs: 50);
        for (int i = 0; i < 100; i++) h.Tracer.StartSpan($"s{i}").End();
        h.WaitFor(() => h.Tracer.DroppedSpans == 100, "all spans dropped");
        h.Dispose();
        Assert.Equal(10, h.Log.Count(l => l.Text.Contains("failed: collector refused"))); // one export per batch of 10: none repeated
        Assert.All(receiver.WaitForCalls(10), c => Assert.EndsWith("10 spans, answered INVALID_ARGUMENT", c));
        Assert.Equal(10, receiver.Calls.Count);
        string warning = Assert.Single(h.Lines(LogLevel.Warn), l => l.Contains("refused"));
        Assert.Equal($"tracing: collector at 127.0.0.1:{receiver.Port} refused the export (grpc-status 3 INVALID_ARGUMENT: bad span ✗); " +
            "keeping up to 100 spans and dropping the rest until it takes them", warning);
    }

    [Fact]
    public void ARetryableStatusIsRetriedWithDoublingBackoffUntilItWorks()
    {
        using var receiver = OtlpReceiver.Start(0, "--mode", "error-then-ok", "--count", "4", "--code", "UNAVAILABLE");
        var h = new TracerHarness(receiver.Port, batch: 5, delayMs: 10, retryMs: 50, retryMaxMs: 200);
        for (int i = 0; i < 5; i++) h.Tracer.StartSpan($"s{i}").End();
        List<JsonElement> spans = receiver.WaitForSpans(5);
        h.Dispose();
        Assert.Equal(["s0", "s1", "s2", "s3", "s4"], spans.Select(s => s.GetProperty("name").GetString()));
        Assert.Equal(0, h.Tracer.DroppedSpans);
        Assert.Equal(5, receiver.WaitForCalls(5).Count);
        List<string> delays = [.. h.Log.Select(l => Regex.Match(l.Text, @"next attempt in (\d+) ms")).Where(m => m.Success).Select(m => m.Groups[1].Value)];
        Assert.Equal(["50", "100", "200", "200"], delays);
        Assert.Single(h.Lines(LogLevel.Warn));
        Assert.Single(h.Lines(LogLevel.Info), l => l.EndsWith("takes spans again, dropped 0 spans while it did not"));
    }

    [Fact]
    public void ACollectorThatRecyclesItsConnectionsWithGoAwayLosesNothing()
    {
        using var receiver = OtlpReceiver.Start(0, "--max-connection-age-ms", "200");
        var h = new TracerHarness(receiver.Port, batch: 5, delayMs: 10);
        int sent = 0;
        for (int round = 0; round < 15; round++)
        {
            for (int i = 0; i < 5; i++) h.Tracer.StartSpan($"s{sent++}").End();
            Thread.Sleep(100); // the receiver's connections age meanwhile
        }
        receiver.WaitForSpans(sent);
        h.Dispose();
        Assert.Equal(0, h.Tracer.DroppedSpans);
        Assert.True(h.Tracer.Connects > 1, $"one connection only:\n{h.Dump()}");
        Assert.Empty(h.Lines(LogLevel.Warn));
    }
}
