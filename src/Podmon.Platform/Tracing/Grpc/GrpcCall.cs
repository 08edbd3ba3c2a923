using System.Buffers.Binary;
using System.Globalization;
using Podmon.Tracing.Http2;

namespace Podmon.Tracing.Grpc;

/// <summary>
/// One unary gRPC method on one server (gRPC over HTTP/2, the "PROTOCOL-HTTP2" document of
/// grpc/grpc): POST of one length-prefixed, uncompressed message, answered by :status 200 and the
/// trailer grpc-status. The request's header block is the same for every call, so it is encoded
/// once. Anything but :status 200 with grpc-status 0 is a failed call, with gRPC's mapping of
/// HTTP statuses to codes when the answer did not come from a gRPC server.
/// </summary>
public sealed class GrpcCall
{
    /// <summary>The 5-byte message prefix: a compressed flag and the big-endian length.</summary>
    public const int PrefixSize = 5;

    readonly byte[] _headerBlock;

    public GrpcCall(string authority, string path, string userAgent, TimeSpan timeout)
    {
        var block = new List<byte>(256);
        HeaderBlockEncoder.Add(block, ":method", "POST");
        HeaderBlockEncoder.Add(block, ":scheme", "http");
        HeaderBlockEncoder.Add(block, ":path", path);
        HeaderBlockEncoder.Add(block, ":authority", authority);
        HeaderBlockEncoder.Add(block, "content-type", "application/grpc");
        HeaderBlockEncoder.Add(block, "te", "trailers");
        HeaderBlockEncoder.Add(block, "user-agent", userAgent);
        long ms = Math.Clamp((long)timeout.TotalMilliseconds, 1, 99_999_999); // at most 8 digits
        HeaderBlockEncoder.Add(block, "grpc-timeout", ms.ToString(CultureInfo.InvariantCulture) + "m");
        _headerBlock = [.. block];
    }

    public ReadOnlySpan<byte> HeaderBlock => _headerBlock;

    /// <summary>Fills the prefix of a message whose <paramref name="messageLength"/> bytes follow it.</summary>
    public static void WritePrefix(Span<byte> prefix, int messageLength)
    {
        prefix[0] = 0; // not compressed
        BinaryPrimitives.WriteUInt32BigEndian(prefix[1..], (uint)messageLength);
    }

    /// <summary>
    /// Sends <paramref name="framedMessage"/> (prefix included) and returns the call's status and the
    /// response message (without its prefix; empty if none). Transport failures throw (see
    /// <see cref="Http2Connection.Exchange"/>).
    /// </summary>
    public GrpcStatus Invoke(Http2Connection connection, ReadOnlySpan<byte> framedMessage, long deadlineMs, out byte[] response)
    {
        var headers = new GrpcResponseHeaders();
        byte[] body = connection.Exchange(_headerBlock, framedMessage, headers, deadlineMs);
        response = body.Length >= PrefixSize && body[0] == 0 ? body.AsSpan(PrefixSize).ToArray() : [];
        if (headers.HttpStatus != 200)
            return new GrpcStatus(FromHttpStatus(headers.HttpStatus), $"HTTP status {headers.HttpStatus}" +
                (headers.ContentType is { } ct ? $", content-type {ct}" : ""));
        if (headers.GrpcStatus is not { } code)
            return new GrpcStatus(GrpcStatus.Internal, "the response has no grpc-status");
        return new GrpcStatus(code, headers.GrpcMessage);
    }

    static int FromHttpStatus(int status) => status switch
    {
        400 => GrpcStatus.Internal,
        401 => GrpcStatus.Unauthenticated,
        403 => GrpcStatus.PermissionDenied,
        404 => GrpcStatus.Unimplemented,
        429 or 502 or 503 or 504 => GrpcStatus.Unavailable,
        _ => GrpcStatus.Unknown,
    };
}
