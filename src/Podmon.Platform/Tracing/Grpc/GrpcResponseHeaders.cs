using System.Text;
using Podmon.Tracing.Http2;

namespace Podmon.Tracing.Grpc;

/// <summary>
/// The response fields a unary gRPC call needs, from the response headers and the trailers (or
/// the one block of a trailers-only response): :status, content-type, grpc-status, grpc-message
/// (percent-decoded, as the gRPC HTTP/2 protocol encodes it).
/// </summary>
internal sealed class GrpcResponseHeaders : IHeaderSink
{
    public int HttpStatus { get; private set; }
    public string? ContentType { get; private set; }
    public int? GrpcStatus { get; private set; }
    public string? GrpcMessage { get; private set; }

    public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        if (name.SequenceEqual(":status"u8))
            HttpStatus = ParseInt(value) ?? -1;
        else if (name.SequenceEqual("content-type"u8))
            ContentType = Encoding.ASCII.GetString(value);
        else if (name.SequenceEqual("grpc-status"u8))
            GrpcStatus = ParseInt(value) ?? -1;
        else if (name.SequenceEqual("grpc-message"u8))
            GrpcMessage = PercentDecode(value);
    }

    static int? ParseInt(ReadOnlySpan<byte> s)
    {
        if (s.IsEmpty || s.Length > 9) return null;
        int v = 0;
        foreach (byte b in s)
        {
            if (b is < (byte)'0' or > (byte)'9') return null;
            v = v * 10 + (b - '0');
        }
        return v;
    }

    static string PercentDecode(ReadOnlySpan<byte> s)
    {
        var bytes = new List<byte>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '%' && i + 2 < s.Length && Hex(s[i + 1]) is int hi and >= 0 && Hex(s[i + 2]) is int lo and >= 0)
            {
                bytes.Add((byte)(hi << 4 | lo));
                i += 2;
            }
            else bytes.Add(s[i]);
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    static int Hex(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };
}
