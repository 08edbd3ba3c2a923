namespace Podmon.Tracing.Http2;

/// <summary>
/// The connection cannot go on (a protocol error by the peer, a GOAWAY, a closed socket) or one
/// stream failed (<see cref="StreamOnly"/>: a RST_STREAM, the connection stays usable).
/// <see cref="Retryable"/> says whether the same request may succeed later or elsewhere.
/// </summary>
public sealed class Http2Exception(string message, Http2Error code = Http2Error.ProtocolError, bool retryable = true, bool streamOnly = false)
    : Exception(message)
{
    public Http2Error Code { get; } = code;
    public bool Retryable { get; } = retryable;
    public bool StreamOnly { get; } = streamOnly;
}
