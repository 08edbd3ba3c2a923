using System.Buffers.Binary;
using System.Text;

namespace Podmon.Streaming;

/// <summary>
/// RFC 6455 framing as the server writes it: the opcodes, the close codes, and the header of an
/// unmasked frame that is a whole message (a server never masks, and podmon sends every message as
/// one frame). Reading the client's frames is <see cref="FrameReader"/>'s.
/// </summary>
static class WebSocketFrame
{
    public const byte OpContinuation = 0, OpText = 1, OpBinary = 2, OpClose = 8, OpPing = 9, OpPong = 10;
    public const ushort CloseNormal = 1000, CloseProtocolError = 1002, CloseInvalidData = 1007,
        CloseTooBig = 1009, CloseInternalError = 1011;

    /// <summary>The longest header (a 64-bit length).</summary>
    public const int MaxHeader = 10;

    /// <summary>Writes the header of a final frame of <paramref name="length"/> payload bytes into <paramref name="buf"/>; returns it.</summary>
    public static Span<byte> Header(Span<byte> buf, byte opcode, int length)
    {
        buf[0] = (byte)(0x80 | opcode);
        if (length < 126)
        {
            buf[1] = (byte)length;
            return buf[..2];
        }
        if (length <= ushort.MaxValue)
        {
            buf[1] = 126;
            BinaryPrimitives.WriteUInt16BigEndian(buf[2..], (ushort)length);
            return buf[..4];
        }
        buf[1] = 127;
        BinaryPrimitives.WriteUInt64BigEndian(buf[2..], (ulong)length);
        return buf[..10];
    }

    /// <summary>A Close frame's payload (RFC 6455 §5.5.1): the code, then the reason cut to 40 characters; returns its length.</summary>
    public static int ClosePayload(Span<byte> payload, ushort code, string reason)
    {
        payload[0] = (byte)(code >> 8);
        payload[1] = (byte)code;
        return 2 + Encoding.UTF8.GetBytes(reason.Length > 40 ? reason[..40] : reason, payload[2..]);
    }
}
