using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Podmon.IntegrationTests.Tracing;

/// <summary>
/// tests/tracing/otlp_receiver.py, a collector nobody here wrote (Debian's grpcio, and message classes
/// protoc generates from tests/fixtures/otlp), as a child process: started on a port, read through
/// the span lines it writes and the call lines it prints, killed on dispose.
/// </summary>
sealed class OtlpReceiver : IDisposable
{
    const string Python = "/usr/bin/python3";

    readonly Process _process;
    readonly ConcurrentQueue<string> _calls = new();

    OtlpReceiver(Process process, int port, string outFile)
    {
        _process = process;
        Port = port;
        OutFile = outFile;
    }

    public int Port { get; }
    public string OutFile { get; }

    /// <summary>The receiver's "call N: ..." lines so far.</summary>
    public IReadOnlyList<string> Calls => [.. _calls];

    /// <summary>A TCP port on 127.0.0.1 that was free a moment ago (for a receiver started later).</summary>
    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>Starts the receiver (on <paramref name="port"/>, 0: any) and returns once it listens.</summary>
    public static OtlpReceiver Start(int port = 0, params string[] options)
    {
        string outFile = Path.Combine(Path.GetTempPath(), $"otlp-spans-{Guid.NewGuid():N}.jsonl");
        File.WriteAllText(outFile, "");
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in (string[])[Repo.Path("tests", "tracing", "otlp_receiver.py"),
                 "--proto-dir", Repo.Path("tests", "fixtures", "otlp"), "--port", port.ToString(), "--out", outFile, .. options])
            psi.ArgumentList.Add(a);
        Process p = Process.Start(psi)!;
        string? line = p.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)).GetAwaiter().GetResult();
        if (line is null || !line.StartsWith("listening on 127.0.0.1:", StringComparison.Ordinal))
        {
            p.Kill(true);
            throw new Xunit.Sdk.XunitException($"otlp_receiver.py did not start: {line} {p.StandardError.ReadToEnd()}");
        }
        var r = new OtlpReceiver(p, int.Parse(line["listening on 127.0.0.1:".Length..]), outFile);
        p.ErrorDataReceived += (_, e) => { if (e.Data is { } d) r._calls.Enqueue(d); };
        p.BeginErrorReadLine();
        return r;
    }

    /// <summary>Every span line so far.</summary>
    public List<JsonElement> Spans() =>
        [.. File.ReadAllLines(OutFile).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement)];

    /// <summary>Waits (up to 30 s) until <paramref name="done"/> holds for the spans received.</summary>
    public List<JsonElement> WaitForSpans(Func<List<JsonElement>, bool> done, string what)
    {
        for (int i = 0; i < 3000; i++)
        {
            List<JsonElement> spans = Spans();
            if (done(spans)) return spans;
            Thread.Sleep(10);
        }
        throw new Xunit.Sdk.XunitException($"the receiver did not get {what} within 30 s (it has {Spans().Count} spans; calls: {string.Join("; ", Calls)})");
    }

    /// <summary>Waits (up to 30 s) until the receiver printed <paramref name="count"/> call lines (they come asynchronously).</summary>
    public IReadOnlyList<string> WaitForCalls(int count)
    {
        for (int i = 0; i < 3000 && _calls.Count < count; i++) Thread.Sleep(10);
        Assert.True(_calls.Count >= count, $"the receiver did not print {count} call lines within 30 s: {string.Join("; ", Calls)}");
        return Calls;
    }

    public List<JsonElement> WaitForSpans(int count) => WaitForSpans(s => s.Count >= count, $"{count} spans");

    public void Dispose()
    {
        try { _process.Kill(true); } catch (InvalidOperationException) { }
        _process.WaitForExit(10_000);
        _process.Dispose();
        File.Delete(OutFile);
    }
}
