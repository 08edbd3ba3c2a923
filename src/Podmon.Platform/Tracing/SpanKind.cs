namespace Podmon.Tracing;

/// <summary>A span's role, with OTLP's numbers (<c>Span.SpanKind</c> in trace.proto): an RPC the server answers is <see cref="Server"/>.</summary>
public enum SpanKind { Internal = 1, Server = 2, Client = 3 }
