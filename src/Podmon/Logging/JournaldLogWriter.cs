using System.Buffers.Binary;
using System.Text;
using Podmon.Sys;

namespace Podmon.Logging;

/// <summary>
/// journald's native protocol: one datagram per line to the journal socket, with the fields
/// conmon sends (MESSAGE, PRIORITY 6 for stdout and 3 for stderr, CONTAINER_ID,
/// CONTAINER_ID_FULL, CONTAINER_PARTIAL_MESSAGE=true for a piece without a newline). MESSAGE uses
/// the binary-safe encoding and is sent straight from the read buffer (sendmsg iovecs).
/// </summary>
public sealed unsafe class JournaldLogWriter : ILogWriter
{
    readonly OwnedFd _socket;
    readonly byte[] _stdoutFields, _stderrFields;
    bool _reported;

    static ReadOnlySpan<byte> MessageName => "MESSAGE\n"u8;
    static ReadOnlySpan<byte> PartialField => "CONTAINER_PARTIAL_MESSAGE=true\n"u8;

    JournaldLogWriter(OwnedFd socket, string containerId, IReadOnlyList<string> extraFields)
    {
        _socket = socket;
        string ids = $"CONTAINER_ID={containerId[..Math.Min(12, containerId.Length)]}\nCONTAINER_ID_FULL={containerId}\n";
        foreach (string f in extraFields) ids += f + "\n";
        _stdoutFields = GC.AllocateArray<byte>(Encoding.UTF8.GetByteCount(ids) + 11, pinned: true);
        _stderrFields = GC.AllocateArray<byte>(_stdoutFields.Length, pinned: true);
        "PRIORITY=6\n"u8.CopyTo(_stdoutFields);
        "PRIORITY=3\n"u8.CopyTo(_stderrFields);
        Encoding.UTF8.GetBytes(ids, _stdoutFields.AsSpan(11));
        Encoding.UTF8.GetBytes(ids, _stderrFields.AsSpan(11));
    }

    /// <summary>Connects to the journal; a missing socket is an error here, at create time.</summary>
    public static JournaldLogWriter Open(string socketPath, string containerId, IReadOnlyList<string>? extraFields = null)
    {
        if (!File.Exists(socketPath))
            throw new IOException($"journald log driver: the journal socket '{socketPath}' does not exist");
        OwnedFd fd = UnixSocket.Connect(socketPath, Libc.SOCK_DGRAM);
        long* tv = stackalloc long[2] { 1, 0 }; // a stuck journal blocks the loop 1 s at most per line
        Libc.setsockopt(fd.Value, Libc.SOL_SOCKET, Libc.SO_SNDTIMEO, tv, 16);
        return new JournaldLogWriter(fd, containerId, extraFields ?? []);
    }

    public LogFile? OutputFile => null;

    public void Write(Pipe pipe, ReadOnlySpan<byte> data, in LogTime time)
    {
        byte[] fields = pipe == Pipe.Stdout ? _stdoutFields : _stderrFields;
        while (!data.IsEmpty)
        {
            int nl = data.IndexOf((byte)'\n');
            ReadOnlySpan<byte> line = nl < 0 ? data : data[..nl];
            data = nl < 0 ? default : data[(nl + 1)..];
            Send(fields, line, partial: nl < 0);
        }
    }

    void Send(byte[] fields, ReadOnlySpan<byte> message, bool partial)
    {
        ulong len = BitConverter.IsLittleEndian ? (ulong)message.Length : BinaryPrimitives.ReverseEndianness((ulong)message.Length);
        byte nl = (byte)'\n';
        fixed (byte* f = fields)
        fixed (byte* name = MessageName)
        fixed (byte* m = message)
        fixed (byte* part = PartialField)
        {
            Libc.IoVec* iov = stackalloc Libc.IoVec[6];
            iov[0] = new Libc.IoVec { Base = f, Length = (nuint)fields.Length };
            iov[1] = new Libc.IoVec { Base = name, Length = (nuint)MessageName.Length };
            iov[2] = new Libc.IoVec { Base = &len, Length = 8 };
            iov[3] = new Libc.IoVec { Base = m, Length = (nuint)message.Length };
            iov[4] = new Libc.IoVec { Base = &nl, Length = 1 };
            iov[5] = new Libc.IoVec { Base = part, Length = partial ? (nuint)PartialField.Length : 0 };
            var msg = new Libc.MsgHdr { Iov = iov, IovLen = 6 };
            if (Libc.sendmsg(_socket.Value, &msg, Libc.MSG_NOSIGNAL) < 0 && !_reported)
            {
                _reported = true;
                Diagnostics.Log.Error($"journald log driver: {Errno.Describe(Errno.Last)}; further failures are not reported");
            }
        }
    }

    public void Sync() { }

    public void Reopen() { }

    public void Dispose() => _socket.Dispose();
}
