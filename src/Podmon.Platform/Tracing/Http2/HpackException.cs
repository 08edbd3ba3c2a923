namespace Podmon.Tracing.Http2;

/// <summary>
/// A header block that is not valid HPACK (RFC 7541), with what was wrong ("hpack: index 70 out of
/// range ..."). The HTTP/2 layer answers it with a connection error of type COMPRESSION_ERROR: after
/// a failed block the decoder's dynamic table no longer matches the peer's, so the decoder must not
/// be used again.
/// </summary>
public sealed class HpackException(string message) : Exception(message);
