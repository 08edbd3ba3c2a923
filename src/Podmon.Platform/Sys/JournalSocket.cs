using System.Buffers.Binary;

namespace Podmon.Sys;

/// <summary>
/// journald's native protocol: one datagram per entry to the journal socket, "NAME=value\n" fields
/// and MESSAGE in the binary-safe form (name, newline, 64-bit little-endian length, bytes, newline),
/// so any byte, newlines too, is allowed. An entry is sent from the caller's buffers (sendmsg
/// iovecs), nothing copied. Used for container logs and for podmon's own log.
/// </summary>
public sealed unsafe class JournalSocket : IDisposable
{
    public const string DefaultPath = "/run/systemd/journal/socket";

    readonly OwnedFd _fd;

    JournalSocket(OwnedFd fd) => _fd = fd;

    /// <summary>Connects to the journal; a missing socket is an IOException naming it.</summary>
    public static JournalSocket Open(string path = DefaultPath)
    {
        if (!File.Exists(path)) throw new IOException($"the journal socket '{path}' does not exist");
        OwnedFd fd = UnixSocket.Connect(path, Libc.SOCK_DGRAM);
        long* tv = stackalloc long[2] { 1, 0 }; // a stuck journal blocks the loop 1 s at most per entry
        Libc.setsockopt(fd.Value, Libc.SOL_SOCKET, Libc.SO_SNDTIMEO, tv, 16);
        return new JournalSocket(fd);
    }

    /// <summary>
    /// One entry: <paramref name="fields"/> ("NAME=value\n"…), MESSAGE = <paramref name="message"/>,
    /// then <paramref name="trailer"/> (more fields, or empty). False (errno set) if the journal refused
    /// it; with <paramref name="wait"/> false also when the journal is not taking entries right now.
    /// </summary>
    public bool Send(ReadOnlySpan<byte> fields, ReadOnlySpan<byte> message, ReadOnlySpan<byte> trailer, bool wait = true)
    {
        ulong len = BitConverter.IsLittleEndian ? (ulong)message.Length : BinaryPrimitives.ReverseEndianness((ulong)message.Length);
        byte nl = (byte)'\n';
        ReadOnlySpan<byte> name = "MESSAGE\n"u8;
        fixed (byte* f = fields)
        fixed (byte* n = name)
        fixed (byte* m = message)
        fixed (byte* t = trailer)
        {
            Libc.IoVec* iov = stackalloc Libc.IoVec[6];
            iov[0] = new Libc.IoVec { Base = f, Length = (nuint)fields.Length };
            iov[1] = new Libc.IoVec { Base = n, Length = (nuint)name.Length };
            iov[2] = new Libc.IoVec { Base = &len, Length = 8 };
            iov[3] = new Libc.IoVec { Base = m, Length = (nuint)message.Length };
            iov[4] = new Libc.IoVec { Base = &nl, Length = 1 };
            iov[5] = new Libc.IoVec { Base = t, Length = (nuint)trailer.Length };
            var msg = new Libc.MsgHdr { Iov = iov, IovLen = 6 };
            return Libc.sendmsg(_fd.Value, &msg, Libc.MSG_NOSIGNAL | (wait ? 0 : Libc.MSG_DONTWAIT)) >= 0;
        }
    }

    public void Dispose() => _fd.Dispose();
}
