using System.Buffers;

namespace Podmon.Streaming;

/// <summary>
/// RFC 6455 input of a <see cref="StreamConnection"/>: frame headers checked (masked, no RSV bits,
/// known opcodes, whole control frames of at most 125 bytes, continuations only inside a message,
/// a payload cap), payloads unmasked in place and handed on as they arrive, the Kubernetes channel
/// byte taken from each message's first byte (or, base64 flavour, the message decoded whole).
/// </summary>
sealed partial class StreamConnection
{
    void ProcessFrames()
    {
        while (!_inputPaused && _phase is Phase.Open or Phase.Closing)
        {
            if (!_inFrame && !ReadFrameHeader()) break;
            if (!_inFrame) continue;
            int available = _inEnd - _inStart;
            if (_frameOpcode >= OpClose)
            {
                if (available < _frameLeft) break; // control frames are small (<= 125): wait for all of it
                Span<byte> payload = _in.AsSpan(_inStart, (int)_frameLeft);
                Unmask(payload);
                _inStart += payload.Length;
                _inFrame = false;
                Control(_frameOpcode, payload);
                continue;
            }
            int n = (int)Math.Min(available, _frameLeft);
            if (n == 0 && _frameLeft > 0) break;
            Span<byte> data = _in.AsSpan(_inStart, n);
            Unmask(data);
            _inStart += n;
            _frameLeft -= n;
            if (_frameLeft == 0) _inFrame = false;
            Payload(data);
            if (!_inFrame && _frameFin && _phase != Phase.Gone) EndMessage();
        }
        if (_phase == Phase.Gone) return;
        if (_inStart == _inEnd) _inStart = _inEnd = 0;
        else if (_inEnd == _in.Length) Compact();
    }

    /// <summary>Parses the next frame header if it is all there; false to wait for more bytes.</summary>
    bool ReadFrameHeader()
    {
        ReadOnlySpan<byte> b = _in.AsSpan(_inStart, _inEnd - _inStart);
        if (b.Length < 2) return false;
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
        if (error is not null)
        {
            Fail(CloseProtocolError, error);
            return false;
        }
        int size = length == 126 ? 4 : length == 127 ? 10 : 2;
        if (b.Length < size + 4) return false;
        if (length == 126) length = b[2] << 8 | b[3];
        else if (length == 127) length = (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(b[2..]);
        if (length is < 0 or > MaxFramePayload)
        {
            Fail(CloseTooBig, $"frame payload over {MaxFramePayload} bytes");
            return false;
        }
        _mask = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(b[size..]);
        _maskAt = 0;
        _inStart += size + 4;
        _inFrame = true;
        _frameFin = fin;
        _frameOpcode = opcode;
        _frameLeft = length;
        if (opcode is OpText or OpBinary)
        {
            _messageOpcode = opcode;
            _messageChannel = -1;
            _messageWhole = Base64;
            _wholeLength = 0;
        }
        return true;
    }

    void Unmask(Span<byte> data)
    {
        for (int i = 0; i < data.Length; i++)
        {
            data[i] ^= (byte)(_mask >> (_maskAt * 8));
            _maskAt = (_maskAt + 1) & 3;
        }
    }

    void Payload(ReadOnlySpan<byte> data)
    {
        if (_phase != Phase.Open || data.IsEmpty) return; // closing: the rest of the input is read and dropped
        if (_messageChannel < 0 && !_messageWhole)
        {
            _messageChannel = data[0];
            data = data[1..];
            _messageWhole = !_session!.Streams(_messageChannel);
        }
        if (_messageWhole)
        {
            if (_wholeLength + data.Length > MaxWholeMessage)
            {
                Fail(CloseTooBig, $"message over {MaxWholeMessage} bytes on a channel that is read whole");
                return;
            }
            if (_whole is null || _whole.Length < _wholeLength + data.Length)
                Array.Resize(ref _whole, Math.Min(MaxWholeMessage, Math.Max(256, (_wholeLength + data.Length) * 2)));
            data.CopyTo(_whole.AsSpan(_wholeLength));
            _wholeLength += data.Length;
        }
        else if (!data.IsEmpty) Deliver(_messageChannel, data);
    }

    void EndMessage()
    {
        _messageOpcode = 0;
        if (!_messageWhole || _phase != Phase.Open) return;
        ReadOnlySpan<byte> message = _whole.AsSpan(0, _wholeLength);
        if (_wholeLength > 4096 && _whole!.Length > 4096) _whole = null; // do not keep a big buffer after a big message
        if (!Base64)
        {
            Deliver(_messageChannel, message);
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
                Fail(CloseInvalidData, "malformed base64 channel message");
                return;
            }
            Deliver(channel, decoded.AsSpan(0, written));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(decoded);
        }
    }

    void Deliver(int channel, ReadOnlySpan<byte> data)
    {
        if (_sessionDone || _session is null) return;
        if (!_session.OnData(channel, data) && _phase == Phase.Open)
        {
            _inputPaused = true;
            _loop.Modify(_reg, Interest);
        }
    }

    /// <summary>The session can take client data again.</summary>
    public void ResumeInput()
    {
        if (!_inputPaused || _phase == Phase.Gone) return;
        _inputPaused = false;
        ProcessFrames();
        if (_phase != Phase.Gone) _loop.Modify(_reg, Interest);
    }

    void Control(byte opcode, ReadOnlySpan<byte> payload)
    {
        switch (opcode)
        {
            case OpPing:
                if (_phase == Phase.Open) Write(FrameHeader(stackalloc byte[10], OpPong, payload.Length), payload);
                break;
            case OpClose:
                _closeReceived = true;
                if (payload.Length == 1)
                {
                    Fail(CloseProtocolError, "a close frame payload of one byte");
                    return;
                }
                if (_phase == Phase.Open)
                {
                    // The client ends the session: answer with its code and close once that is sent.
                    ushort code = payload.Length >= 2 ? (ushort)(payload[0] << 8 | payload[1]) : CloseNormal;
                    EndSession();
                    SendClose(code is CloseNormal or 1001 ? code : CloseNormal, "");
                }
                CloseAfterFlush();
                break;
        }
    }

}
