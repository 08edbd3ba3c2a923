using Podmon.Tracing;

namespace Podmon.Tests.Tracing;

/// <summary>Where the endpoint and the batch numbers come from, and how bad values are reported.</summary>
public class TracingSettingsTests
{
    static Func<string, string?> Env(params (string Name, string Value)[] vars) =>
        name => vars.FirstOrDefault(v => v.Name == name).Value;

    static readonly (string, string)[] AllEndpoints =
    [
        ("PODMON_TRACING_ENDPOINT", "http://10.0.0.2:1002"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://10.0.0.3:1003"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://10.0.0.4:1004"),
    ];

    [Fact]
    public void DefaultsAreConmonRsAndTheSdkSpecifications()
    {
        TracingSettings s = TracingSettings.Resolve(null, Env(), "podmon");
        Assert.Equal("127.0.0.1:4317", s.Endpoint.Authority);
        Assert.Equal("default", s.EndpointSource);
        Assert.Equal("podmon", s.ServiceName);
        Assert.Equal(2048, s.MaxQueueSize);
        Assert.Equal(512, s.MaxExportBatchSize);
        Assert.Equal(TimeSpan.FromSeconds(5), s.ScheduleDelay);
        Assert.Equal(TimeSpan.FromSeconds(10), s.ExportTimeout);
        Assert.Equal("podmon", s.UserAgent);
        Assert.Equal("podmon/0.1.0", TracingSettings.Resolve(null, Env(), "podmon", "0.1.0").UserAgent);
    }

    [Fact]
    public void TheEndpointsPrecedence()
    {
        Assert.Equal("10.0.0.1:1001", TracingSettings.Resolve("http://10.0.0.1:1001", Env(AllEndpoints), "p").Endpoint.Authority);
        Assert.Equal("--tracing-endpoint", TracingSettings.Resolve("http://10.0.0.1:1001", Env(AllEndpoints), "p").EndpointSource);
        for (int i = 0; i < AllEndpoints.Length; i++)
        {
            TracingSettings s = TracingSettings.Resolve(null, Env(AllEndpoints[i..]), "p");
            Assert.Equal(AllEndpoints[i].Item1, s.EndpointSource);
            Assert.Equal($"10.0.0.{i + 2}:100{i + 2}", s.Endpoint.Authority);
        }
    }

    [Fact]
    public void EmptyValuesCountAsUnset()
    {
        TracingSettings s = TracingSettings.Resolve("", Env(("PODMON_TRACING_ENDPOINT", ""), ("OTEL_EXPORTER_OTLP_ENDPOINT", "10.0.0.4:1004"),
            ("OTEL_SERVICE_NAME", ""), ("OTEL_BSP_MAX_QUEUE_SIZE", "")), "podmon");
        Assert.Equal("10.0.0.4:1004", s.Endpoint.Authority);
        Assert.Equal("podmon", s.ServiceName);
        Assert.Equal(2048, s.MaxQueueSize);
    }

    [Fact]
    public void NumbersAndNameFromTheEnvironment()
    {
        TracingSettings s = TracingSettings.Resolve(null, Env(
            ("OTEL_SERVICE_NAME", "pods"), ("OTEL_BSP_MAX_QUEUE_SIZE", "100"), ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "10"),
            ("OTEL_BSP_SCHEDULE_DELAY", "0"), ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500")), "podmon");
        Assert.Equal("pods", s.ServiceName);
        Assert.Equal("podmon", s.ScopeName); // the instrumentation is podmon's whatever the service is called
        Assert.Equal(100, s.MaxQueueSize);
        Assert.Equal(10, s.MaxExportBatchSize);
        Assert.Equal(TimeSpan.Zero, s.ScheduleDelay);
        Assert.Equal(TimeSpan.FromMilliseconds(2500), s.ExportTimeout);
    }

    [Fact]
    public void TheTracesTimeoutBeatsTheGeneralOnesAndTheBatchProcessors()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(700), TracingSettings.Resolve(null, Env(
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "700"), ("OTEL_EXPORTER_OTLP_TIMEOUT", "800"), ("OTEL_BSP_EXPORT_TIMEOUT", "900")), "p").ExportTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(900), TracingSettings.Resolve(null, Env(("OTEL_BSP_EXPORT_TIMEOUT", "900")), "p").ExportTimeout);
    }

    [Theory]
    [InlineData("OTEL_BSP_MAX_QUEUE_SIZE", "0", "OTEL_BSP_MAX_QUEUE_SIZE '0': expected a positive integer")]
    [InlineData("OTEL_BSP_MAX_QUEUE_SIZE", "lots", "OTEL_BSP_MAX_QUEUE_SIZE 'lots': expected a positive integer")]
    [InlineData("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "-1", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE '-1': expected a positive integer")]
    [InlineData("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4096", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE (4096) must not exceed OTEL_BSP_MAX_QUEUE_SIZE (2048)")]
    [InlineData("OTEL_BSP_SCHEDULE_DELAY", "5s", "OTEL_BSP_SCHEDULE_DELAY '5s': expected a non-negative integer (milliseconds)")]
    [InlineData("OTEL_EXPORTER_OTLP_TIMEOUT", "0", "OTEL_EXPORTER_OTLP_TIMEOUT '0': expected a positive integer (milliseconds)")]
    [InlineData("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1.5", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT '1.5': expected a positive integer (milliseconds)")]
    [InlineData("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4317", "OTEL_EXPORTER_OTLP_ENDPOINT 'https://collector:4317': TLS (https) is not supported; the collector must accept cleartext HTTP/2 (http://)")]
    [InlineData("PODMON_TRACING_ENDPOINT", "http://[::1:4317", "PODMON_TRACING_ENDPOINT 'http://[::1:4317': unclosed '[' in an IPv6 address")]
    public void BadValuesNameTheirVariable(string name, string value, string message)
    {
        var e = Assert.Throws<TracingConfigException>(() => TracingSettings.Resolve(null, Env((name, value)), "podmon"));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void ABadFlagNamesTheFlag()
    {
        var e = Assert.Throws<TracingConfigException>(() => TracingSettings.Resolve("http://host:99999", Env(), "podmon"));
        Assert.Equal("--tracing-endpoint 'http://host:99999': the port must be a number from 1 to 65535", e.Message);
    }
}
