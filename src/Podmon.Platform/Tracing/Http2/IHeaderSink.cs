namespace Podmon.Tracing.Http2;

/// <summary>
/// Receives the header fields of a block as HpackDecoder decodes them, in order. The spans are valid
/// only during the call (they point into the block, the dynamic table or the decoder's scratch
/// buffer), so a sink that keeps a field copies it; that is what lets decoding allocate nothing per
/// header.
/// </summary>
public interface IHeaderSink
{
    void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value);
}
