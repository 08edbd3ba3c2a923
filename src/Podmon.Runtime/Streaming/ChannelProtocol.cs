using System.Buffers;
using static Podmon.Streaming.WebSocketFrame;

namespace Podmon.Streaming;

/// <summary>The connection under a <see cref="ChannelProtocol"/> (<see cref="StreamConnection"/>).</summary>
interface IChannelTransport
{
    /// <summary>Whether the session takes this channel's data piece by piece (<see cref="IStreamSession.Streams"/>).</summary>
    bool Streams(int channel);

    /// <summary>Client data for the session.</summary>
    void Deliver(int channel, ReadOnlySpan<byte> data);

    /// <summary>The client broke the protocol: Close with the reason, and the connection ends.</summary>
    void Fail(ushort code, string reason);

    /// <summary>One frame out: its header and payload.</summary>
    void Write(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload);
}

/// <summary>
/// The Kubernetes channel protocol on a WebSocket (channel.k8s.io and v4/v5, binary or the
/// base64 flavour): a message's first byte names its channel. In: a message on a channel the
/// session streams (stdin, port data) is handed on piece by piece as its frames arrive; other
/// messages (resize, close) and every base64 message ('0'..'9', then the base64 of the payload)
/// are gathered whole, up to <see cref="MaxWholeMessage"/>. Out: data on a channel is one binary
/// frame (channel byte + payload, written from where it lies) or one text frame (digit + base64).
/// </summary>
sealed class ChannelProtocol(IChannelTransport transport, bool base64)
{
    /// <summary>Largest message gathered whole: control-channel messages and base64 messages.</summary>
    const int MaxWholeMessage = 64 * 1024;

    int _channel = -1;
    bool _whole;
    byte[]? _buffer;
    int _length;

    /// <summary>A data message begins.</summary>
    public void StartMessage()
    {
        _channel = -1;
        _whole = base64;
        _length = 0;
    }

    /// <summary>A piece of the message's payload.</summary>
    public void Payload(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return;
        if (_channel < 0 && !_whole)
        {
            _channel = data[0];
            data = data[1..];
            _whole = !transport.Streams(_channel);
        }
        if (_whole)
        {
            if (_length + data.Length > MaxWholeMessage)
            {
                transport.Fail(CloseTooBig, $"message over {MaxWholeMessage} bytes on a channel that is read whole");
                return;
            }
            if (_buffer is null || _buffer.Length < _length + data.Length)
                Array.Resize(ref _buffer, Math.Min(MaxWholeMessage, Math.Max(256, (_length + data.Length) * 2)));
            data.CopyTo(_buffer.AsSpan(_length));
            _length += data.Length;
        }
        else if (!data.IsEmpty) transport.Deliver(_channel, data);
    }

    /// <summary>The message is complete: a gathered one is delivered now.</summary>
    public void EndMessage()
    {
        if (!_whole) return;
        ReadOnlySpan<byte> message = _buffer.AsSpan(0, _length);
        if (_length > 4096 && _buffer!.Length > 4096) _buffer = null; // do not keep a big buffer after a big message
        if (!base64)
        {
            transport.Deliver(_channel, message);
            return;
        }
        // base64.channel.k8s.io: '0'..'9' then the base64 of the payload.
        if (message.IsEmpty) return;
        int channel = message[0] - '0';
        byte[] decoded = ArrayPool<byte>.Shared.Rent(Math.Max(1, message.Length));
        try
        {
            if (channel is < 0 or > 9 || System.Buffers.Text.Base64.DecodeFromUtf8(message[1..], decoded, out _, out int written) != OperationStatus.Done)
            {
                transport.Fail(CloseInvalidData, "malformed base64 channel message");
                return;
            }
            transport.Deliver(channel, decoded.AsSpan(0, written));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(decoded);
        }
    }

    /// <summary>Data on a channel, framed as the negotiated protocol wants it.</summary>
    public void Send(int channel, ReadOnlySpan<byte> data)
    {
        if (!base64)
        {
            Span<byte> header = stackalloc byte[MaxHeader + 1];
            Span<byte> h = Header(header, OpBinary, data.Length + 1);
            header[h.Length] = (byte)channel;
            transport.Write(header[..(h.Length + 1)], data);
            return;
        }
        byte[] text = ArrayPool<byte>.Shared.Rent(1 + System.Buffers.Text.Base64.GetMaxEncodedToUtf8Length(data.Length));
        text[0] = (byte)('0' + channel);
        System.Buffers.Text.Base64.EncodeToUtf8(data, text.AsSpan(1), out _, out int written);
        transport.Write(Header(stackalloc byte[MaxHeader], OpText, written + 1), text.AsSpan(0, written + 1));
        ArrayPool<byte>.Shared.Return(text);
    }

    /// <summary>The connection is gone: lets a gathered message's buffer go.</summary>
    public void Release() => _buffer = null;
}
