using System.Globalization;

namespace Podmon.Tracing;

/// <summary>
/// How the tracer exports, resolved once at start from the command line and the environment
/// (<see cref="Resolve"/>). The endpoint's precedence: the flag (conmon-rs's
/// <c>--tracing-endpoint</c> / <c>CONMON_TRACING_ENDPOINT</c>, resolved by the caller), then
/// <c>PODMON_TRACING_ENDPOINT</c>, <c>OTEL_EXPORTER_OTLP_TRACES_ENDPOINT</c>,
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>, and conmon-rs's default <c>http://127.0.0.1:4317</c>. The
/// batch numbers follow the OpenTelemetry SDK specification's variables and defaults. An empty
/// variable counts as unset (as the specification says); a bad value is an error naming it.
/// </summary>
public sealed class TracingSettings
{
    /// <summary>conmon-rs's <c>--tracing-endpoint</c> default.</summary>
    public const string DefaultEndpoint = "http://127.0.0.1:4317";

    public required Endpoint Endpoint { get; init; }
    /// <summary>Where <see cref="Endpoint"/> came from ("--tracing-endpoint", a variable, or "default").</summary>
    public string EndpointSource { get; init; } = "default";
    /// <summary>service.name of the resource: the binary's name unless OTEL_SERVICE_NAME says otherwise.</summary>
    public required string ServiceName { get; init; }
    /// <summary>
    /// The instrumentation scope's name: the binary's name, whatever the service is called
    /// (conmon-rs names both its service and its tracer after its crate, "conmonrs"). Null: <see cref="ServiceName"/>.
    /// </summary>
    public string? ScopeName { get; init; }
    public int MaxQueueSize { get; init; } = 2048;
    public int MaxExportBatchSize { get; init; } = 512;
    public TimeSpan ScheduleDelay { get; init; } = TimeSpan.FromSeconds(5);
    public TimeSpan ExportTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>The first wait after a failed export; it doubles up to <see cref="RetryMaxDelay"/>.</summary>
    public TimeSpan RetryInitialDelay { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>The HTTP user-agent of the exports, e.g. "podmon/0.1.0".</summary>
    public string UserAgent { get; init; } = "podmon";
    /// <summary>How long <see cref="Tracer.Dispose"/> may take to send what is queued.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The settings from the flag and the environment; <paramref name="version"/> (podmon's) goes
    /// into the user-agent. Throws <see cref="TracingConfigException"/> naming the bad flag or variable.
    /// </summary>
    public static TracingSettings Resolve(string? flagEndpoint, Func<string, string?> env, string serviceName, string? version = null)
    {
        string? Var(string name) => env(name) is { Length: > 0 } v ? v : null;

        (string text, string source) = flagEndpoint is { Length: > 0 } ? (flagEndpoint, "--tracing-endpoint")
            : Var("PODMON_TRACING_ENDPOINT") is { } p ? (p, "PODMON_TRACING_ENDPOINT")
            : Var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") is { } t ? (t, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            : Var("OTEL_EXPORTER_OTLP_ENDPOINT") is { } o ? (o, "OTEL_EXPORTER_OTLP_ENDPOINT")
            : (DefaultEndpoint, "default");

        int queue = Number(Var, "OTEL_BSP_MAX_QUEUE_SIZE", 2048, min: 1);
        int batch = Number(Var, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512, min: 1);
        if (batch > queue)
            throw new TracingConfigException(
                $"OTEL_BSP_MAX_EXPORT_BATCH_SIZE ({batch}) must not exceed OTEL_BSP_MAX_QUEUE_SIZE ({queue})");
        int delayMs = Number(Var, "OTEL_BSP_SCHEDULE_DELAY", 5000, min: 0);
        string timeoutVar = Var("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") is not null ? "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"
            : Var("OTEL_EXPORTER_OTLP_TIMEOUT") is not null ? "OTEL_EXPORTER_OTLP_TIMEOUT"
            : "OTEL_BSP_EXPORT_TIMEOUT";
        int timeoutMs = Number(Var, timeoutVar, 10000, min: 1);

        return new TracingSettings
        {
            Endpoint = Endpoint.Parse(text, source),
            EndpointSource = source,
            ServiceName = Var("OTEL_SERVICE_NAME") ?? serviceName,
            ScopeName = serviceName,
            MaxQueueSize = queue,
            MaxExportBatchSize = batch,
            ScheduleDelay = TimeSpan.FromMilliseconds(delayMs),
            ExportTimeout = TimeSpan.FromMilliseconds(timeoutMs),
            UserAgent = version is null ? "podmon" : $"podmon/{version}",
        };
    }

    static int Number(Func<string, string?> var, string name, int fallback, int min)
    {
        if (var(name) is not { } text) return fallback;
        if (!int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int value) || value < min)
            throw new TracingConfigException(
                $"{name} '{text}': expected {(min == 0 ? "a non-negative" : "a positive")} integer{(name.EndsWith("_SIZE") ? "" : " (milliseconds)")}");
        return value;
    }

    public override string ToString() =>
        $"endpoint {Endpoint} (from {EndpointSource}), service {ServiceName}, queue {MaxQueueSize}, batch {MaxExportBatchSize}, " +
        $"delay {ScheduleDelay.TotalMilliseconds} ms, timeout {ExportTimeout.TotalMilliseconds} ms";
}
