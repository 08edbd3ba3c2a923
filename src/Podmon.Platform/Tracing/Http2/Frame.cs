using System.Buffers.Binary;

namespace Podmon.Tracing.Http2;

/// <summary>HTTP/2 frame types (RFC 9113 section 6).</summary>
public enum FrameType : byte
{
    Data = 0, Headers = 1, Priority = 2, RstStream = 3, Settings = 4, PushPromise = 5, Ping = 6,
    GoAway = 7, WindowUpdate = 8, Continuation = 9,
}

/// <summary>Frame flags; one bit means different things per type (ACK and END_STREAM are both 0x1).</summary>
public static class FrameFlags
{
    public const byte EndStream = 0x1, Ack = 0x1, EndHeaders = 0x4, Padded = 0x8, Priority = 0x20;
}

/// <summary>Error codes of RST_STREAM and GOAWAY (RFC 9113 section 7).</summary>
public enum Http2Error : uint
{
    NoError = 0, ProtocolError = 1, InternalError = 2, FlowControlError = 3, SettingsTimeout = 4,
    StreamClosed = 5, FrameSizeError = 6, RefusedStream = 7, Cancel = 8, CompressionError = 9,
    ConnectError = 10, EnhanceYourCalm = 11, InadequateSecurity = 12, Http11Required = 13,
}

/// <summary>SETTINGS parameters (RFC 9113 section 6.5.2).</summary>
public static class SettingId
{
    public const ushort HeaderTableSize = 1, EnablePush = 2, MaxConcurrentStreams = 3,
        InitialWindowSize = 4, MaxFrameSize = 5, MaxHeaderListSize = 6;
}

/// <summary>The 9-byte frame header: 24-bit length, type, flags, 31-bit stream id.</summary>
public readonly record struct FrameHeader(int Length, FrameType Type, byte Flags, int StreamId)
{
    public const int Size = 9;

    public bool Has(byte flag) => (Flags & flag) != 0;

    public void Write(Span<byte> destination)
    {
        destination[0] = (byte)(Length >> 16);
        destination[1] = (byte)(Length >> 8);
        destination[2] = (byte)Length;
        destination[3] = (byte)Type;
        destination[4] = Flags;
        BinaryPrimitives.WriteUInt32BigEndian(destination[5..], (uint)StreamId & 0x7fffffff);
    }

    /// <summary>The reserved bit of the stream id is ignored, as the RFC says.</summary>
    public static FrameHeader Read(ReadOnlySpan<byte> source) => new(
        source[0] << 16 | source[1] << 8 | source[2],
        (FrameType)source[3],
        source[4],
        (int)(BinaryPrimitives.ReadUInt32BigEndian(source[5..]) & 0x7fffffff));

    public override string ToString() => $"{Type} stream {StreamId} length {Length} flags 0x{Flags:x2}";
}
