using System.Text;

namespace Podmon.Streaming;

/// <summary>
/// The server's answers to the HTTP/1.1 request that opens a streaming connection: 101 Switching
/// Protocols with the Sec-WebSocket-Accept key (RFC 6455 §4.2.2) and the chosen subprotocol, or an
/// error with its reason as plain text and "Connection: close". Reading the request is
/// <see cref="HttpRequestHead"/>'s, choosing the answer <see cref="StreamingServer"/>'s.
/// </summary>
static class HttpHandshake
{
    const string AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    public static byte[] SwitchingProtocols(string key, string? protocol)
    {
        Span<byte> hash = stackalloc byte[Sha1.HashSize];
        Sha1.Hash(Encoding.ASCII.GetBytes(key + AcceptGuid), hash);
        string response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
                          Convert.ToBase64String(hash) + "\r\n" + (protocol is null ? "" : $"Sec-WebSocket-Protocol: {protocol}\r\n") + "\r\n";
        return Encoding.ASCII.GetBytes(response);
    }

    public static byte[] Error(int status, string statusText, string message, string? extraHeader)
    {
        string body = message + "\n";
        string response = $"HTTP/1.1 {status} {statusText}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n" +
                          (extraHeader is null ? "" : extraHeader + "\r\n") + "Connection: close\r\n\r\n" + body;
        return Encoding.UTF8.GetBytes(response);
    }
}
