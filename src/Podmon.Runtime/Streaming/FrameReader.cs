using System.Buffers.Binary;
using static Podmon.Streaming.WebSocketFrame;

namespace Podmon.Streaming;

/// <summary>What <see cref="FrameReader.Next"/> found.</summary>
enum FrameEvent
{
    /// <summary>Nothing more until more bytes arrive.</summary>
    NeedMore,
    /// <summary>A piece of a data message's payload (possibly empty), unmasked.</summary>
    Data,
    /// <summary>A whole control frame's payload (Close, Ping, Pong), unmasked.</summary>
    Control,
    /// <summary>The client broke the protocol: <see cref="FrameReader.ErrorCode"/> and <see cref="FrameReader.Error"/> say how.</summary>
    Error,
}

/// <summary>
/// RFC 6455 input of a server connection, one piece at a time, in place: frame headers checked
/// (masked, no RSV bits, known opcodes, whole control frames of at most 125 bytes, continuations
/// only inside a message, a payload cap), payloads unmasked where they lie and handed out as they
/// arrive, so a data frame of any size needs no buffer of its own; a control frame is handed out
/// whole. Knows nothing of channels or sockets: the connection feeds it its input buffer.
/// </summary>
sealed class FrameReader
{
    /// <summary>A frame announcing more than this is refused (1009) before its payload is read.</summary>
    public const long MaxFramePayload = 16 << 20;

    bool _inFrame, _fin, _starting;
    byte _opcode;
    long _left;
    uint _mask;
    int _maskAt;
    byte _messageOpcode; // of the data message being read; 0 between messages

    /// <summary>The opcode of the frame of the last piece (a <see cref="FrameEvent.Control"/>'s: Close, Ping or Pong).</summary>
    public byte Opcode => _opcode;

    /// <summary>The last <see cref="FrameEvent.Data"/> piece is the first of its message.</summary>
    public bool StartsMessage { get; private set; }

    /// <summary>The last <see cref="FrameEvent.Data"/> piece ends its message.</summary>
    public bool EndsMessage { get; private set; }

    public ushort ErrorCode { get; private set; }
    public string? Error { get; private set; }

    /// <summary>
    /// Reads from <paramref name="input"/> (the unread bytes; a piece's payload is unmasked there)
    /// up to the next piece. <paramref name="consumed"/> bytes are used up, whatever is returned
    /// (a header is, even while its payload is awaited); nothing is after an error.
    /// </summary>
    public FrameEvent Next(Span<byte> input, out int consumed, out Span<byte> payload)
    {
        consumed = 0;
        payload = default;
        if (!_inFrame)
        {
            FrameEvent header = ReadHeader(input, out consumed);
            if (header != FrameEvent.Data) return header;
            input = input[consumed..];
        }
        if (_opcode >= OpClose)
        {
            if (input.Length < _left) return FrameEvent.NeedMore; // control frames are small (<= 125): wait for all of it
            payload = input[..(int)_left];
            Unmask(payload);
            consumed += payload.Length;
            _inFrame = false;
            return FrameEvent.Control;
        }
        int n = (int)Math.Min(input.Length, _left);
        if (n == 0 && _left > 0) return FrameEvent.NeedMore;
        payload = input[..n];
        Unmask(payload);
        consumed += n;
        _left -= n;
        if (_left == 0) _inFrame = false;
        StartsMessage = _starting;
        _starting = false;
        EndsMessage = !_inFrame && _fin;
        if (EndsMessage) _messageOpcode = 0;
        return FrameEvent.Data;
    }

    /// <summary>Parses the next frame header if it is all there: <see cref="FrameEvent.Data"/> when it was, NeedMore or Error otherwise.</summary>
    FrameEvent ReadHeader(ReadOnlySpan<byte> b, out int size)
    {
        size = 0;
        if (b.Length < 2) return FrameEvent.NeedMore;
        bool fin = (b[0] & 0x80) != 0, masked = (b[1] & 0x80) != 0;
        byte opcode = (byte)(b[0] & 0x0F);
        long length = b[1] & 0x7F;
        string? error = null;
        if ((b[0] & 0x70) != 0) error = "reserved bits set (no extension was negotiated)";
        else if (!masked) error = "client frames must be masked";
        else if (opcode is > OpBinary and < OpClose or > OpPong) error = $"unknown opcode {opcode}";
        else if (opcode >= OpClose && (!fin || length > 125)) error = "control frames must be whole and at most 125 bytes";
        else if (opcode == OpContinuation && _messageOpcode == 0) error = "continuation frame without a message";
        else if (opcode is OpText or OpBinary && _messageOpcode != 0) error = "new message before the previous one ended";
        if (error is not null) return Fail(CloseProtocolError, error);
        int lengthSize = length == 126 ? 4 : length == 127 ? 10 : 2;
        if (b.Length < lengthSize + 4) return FrameEvent.NeedMore;
        if (length == 126) length = b[2] << 8 | b[3];
        else if (length == 127) length = (long)BinaryPrimitives.ReadUInt64BigEndian(b[2..]);
        if (length is < 0 or > MaxFramePayload) return Fail(CloseTooBig, $"frame payload over {MaxFramePayload} bytes");
        _mask = BinaryPrimitives.ReadUInt32LittleEndian(b[lengthSize..]);
        _maskAt = 0;
        size = lengthSize + 4;
        _inFrame = true;
        _fin = fin;
        _opcode = opcode;
        _left = length;
        if (opcode is OpText or OpBinary)
        {
            _messageOpcode = opcode;
            _starting = true;
        }
        return FrameEvent.Data;
    }

    FrameEvent Fail(ushort code, string reason)
    {
        ErrorCode = code;
        Error = reason;
        return FrameEvent.Error;
    }

    void Unmask(Span<byte> data)
    {
        for (int i = 0; i < data.Length; i++)
        {
            data[i] ^= (byte)(_mask >> (_maskAt * 8));
            _maskAt = (_maskAt + 1) & 3;
        }
    }
}
