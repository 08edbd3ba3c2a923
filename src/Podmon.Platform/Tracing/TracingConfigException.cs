namespace Podmon.Tracing;

/// <summary>A tracing setting that cannot be used, naming the flag or variable it came from.</summary>
public sealed class TracingConfigException(string message) : Exception(message);
