using System.Collections.Concurrent;
using Podmon.Diagnostics;
using Podmon.Tracing;

namespace Podmon.IntegrationTests.Tracing;

/// <summary>A tracer in this process aimed at a port, with small numbers so the tests run quickly, and its log kept.</summary>
sealed class TracerHarness : IDisposable
{
    public readonly ConcurrentQueue<(LogLevel Level, string Text)> Log = new();
    public Tracer Tracer { get; }

    public TracerHarness(int port, int queue = 64, int batch = 16, int delayMs = 50, int timeoutMs = 2000,
        int retryMs = 100, int retryMaxMs = 400)
    {
        Tracer = Tracer.Start(new TracingSettings
        {
            Endpoint = Endpoint.Parse($"http://127.0.0.1:{port}", "test"),
            ServiceName = "podmon",
            MaxQueueSize = queue,
            MaxExportBatchSize = batch,
            ScheduleDelay = TimeSpan.FromMilliseconds(delayMs),
            ExportTimeout = TimeSpan.FromMilliseconds(timeoutMs),
            RetryInitialDelay = TimeSpan.FromMilliseconds(retryMs),
            RetryMaxDelay = TimeSpan.FromMilliseconds(retryMaxMs),
        }, (l, m) => Log.Enqueue((l, m)));
    }

    public IEnumerable<string> Lines(LogLevel level) => Log.Where(l => l.Level == level).Select(l => l.Text);

    public string Dump() => string.Join("\n", Log.Select(l => $"{l.Level} {l.Text}"));

    public void WaitFor(Func<bool> condition, string what)
    {
        for (int i = 0; i < 3000 && !condition(); i++) Thread.Sleep(10);
        Assert.True(condition(), $"not within 30 s: {what}\n{Dump()}");
    }

    public void Dispose() => Tracer.Dispose();
}
