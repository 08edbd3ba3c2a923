using System.Buffers.Binary;
using System.Text;
using Podmon.Diagnostics;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Rpc;

/// <summary>
/// One client of the fd socket (conmon-rs's protocol, SOCK_SEQPACKET). A request is one
/// little-endian u64 <c>(requestId &lt;&lt; 32) | count</c> with <c>count</c> fds attached
/// (SCM_RIGHTS, at most <see cref="MaxFds"/>); the reply echoes it, then one u64 slot per fd. A
/// bad request gets <c>(requestId &lt;&lt; 32) | 0xffffffff</c> and the reason as text (what the
/// Go client reads as a server error), its fds are closed, and the connection goes on. An
/// all-zero request closes every fd this connection registered that no create took (no reply);
/// so does the disconnect. One request at a time: while a reply waits for room in the socket,
/// nothing more is read, so a client that does not read its replies holds one reply, not a queue.
/// </summary>
sealed unsafe class FdSocketConnection : IEventHandler
{
    /// <summary>The kernel's SCM_MAX_FD: more cannot be sent in one message.</summary>
    public const int MaxFds = 253;
    public const uint ErrorCount = 0xffff_ffff;
    /// <summary>Past this many registered slots, the taken ones are forgotten.</summary>
    const int PruneAt = 1024;
    const uint ReadEvents = Libc.EPOLLIN | Libc.EPOLLRDHUP;

    readonly EventLoop _loop;
    readonly FdSocket _owner;
    readonly OwnedFd _fd;
    readonly Registration _reg;
    readonly List<ulong> _slots = [];
    byte[]? _pendingReply;

    public FdSocketConnection(EventLoop loop, FdSocket owner, OwnedFd fd)
    {
        _loop = loop;
        _owner = owner;
        _fd = fd;
        _reg = loop.Add(fd.Value, ReadEvents, this);
    }

    /// <summary>Slots this connection registered (some may be taken by now).</summary>
    public int RegisteredCount => _slots.Count;

    public void OnEvents(uint events)
    {
        if (_pendingReply is not null)
        {
            if (Send(_pendingReply)) Resume();
            return;
        }
        Span<byte> data = stackalloc byte[16];
        Span<int> fds = stackalloc int[MaxFds];
        nint n = UnixSocket.ReceiveMessage(_fd.Value, data, fds,
            Libc.MSG_CMSG_CLOEXEC | Libc.MSG_TRUNC | Libc.MSG_DONTWAIT, out int fdCount, out int flags);
        if (n < 0)
        {
            int e = Errno.Last;
            if (e is Errno.EAGAIN or Errno.EINTR) return;
            Close($"recvmsg: {Errno.Describe(e)}");
            return;
        }
        var received = new OwnedFd[fdCount];
        for (int i = 0; i < fdCount; i++) received[i] = new OwnedFd(fds[i]);
        // recvmsg says 0 both for EOF and for an empty packet: the hang-up tells them apart.
        if (n == 0 && fdCount == 0 && (events & (Libc.EPOLLHUP | Libc.EPOLLRDHUP | Libc.EPOLLERR)) != 0)
        {
            Close(null);
            return;
        }
        Handle(data[..(int)Math.Min(n, data.Length)], (int)n, flags, received);
    }

    void Handle(ReadOnlySpan<byte> data, int length, int flags, OwnedFd[] received)
    {
        ulong header = data.Length >= 8 ? BinaryPrimitives.ReadUInt64LittleEndian(data) : 0;
        uint count = (uint)header;
        string? error =
            (flags & Libc.MSG_CTRUNC) != 0 ? $"only {received.Length} of the fds arrived (MSG_CTRUNC: the server is out of file descriptors)" :
            length != 8 ? $"a request is 8 bytes, this one has {length}" :
            header == 0 ? null :
            count > MaxFds ? $"at most {MaxFds} fds per request, the request says {count}" :
            count != received.Length ? $"received {received.Length} fds, but the request says {count}" :
            null;
        if (error is not null || header == 0)
        {
            foreach (OwnedFd fd in received) fd.Dispose();
            if (error is null)
            {
                CloseRegistered();
                return;
            }
            Log.Debug($"fd socket: bad request: {error}");
            Reply(ErrorReply(header, error));
            return;
        }
        if (_slots.Count > PruneAt) _slots.RemoveAll(s => !_owner.Slots.Contains(s));
        var reply = new byte[8 * (1 + received.Length)];
        BinaryPrimitives.WriteUInt64LittleEndian(reply, header);
        for (int i = 0; i < received.Length; i++)
        {
            ulong slot = _owner.Slots.Add(received[i]);
            _slots.Add(slot);
            BinaryPrimitives.WriteUInt64LittleEndian(reply.AsSpan(8 * (i + 1)), slot);
        }
        Reply(reply);
    }

    static byte[] ErrorReply(ulong header, string error)
    {
        var reply = new byte[8 + Encoding.UTF8.GetByteCount(error)];
        BinaryPrimitives.WriteUInt64LittleEndian(reply, (header & 0xffff_ffff_0000_0000) | ErrorCount);
        Encoding.UTF8.GetBytes(error, reply.AsSpan(8));
        return reply;
    }

    void Reply(byte[] reply)
    {
        if (Send(reply) || _fd.IsClosed) return;
        _pendingReply = reply;
        _loop.Modify(_reg, Libc.EPOLLOUT);
    }

    /// <summary>Sends a reply whole; false: no room yet (or the connection is gone).</summary>
    bool Send(byte[] reply)
    {
        fixed (byte* p = reply)
        {
            nint n = Libc.send(_fd.Value, p, (nuint)reply.Length, Libc.MSG_NOSIGNAL | Libc.MSG_DONTWAIT);
            if (n >= 0) return true;
            int e = Errno.Last;
            if (e is Errno.EAGAIN or Errno.EINTR) return false;
            Close($"send: {Errno.Describe(e)}");
            return false;
        }
    }

    void Resume()
    {
        _pendingReply = null;
        _loop.Modify(_reg, ReadEvents);
    }

    void CloseRegistered()
    {
        foreach (ulong slot in _slots) _owner.Slots.Close(slot);
        _slots.Clear();
    }

    /// <summary>Closes the connection and the fds it registered that were not taken.</summary>
    public void Close(string? reason)
    {
        if (_fd.IsClosed) return;
        if (reason is not null) Log.Debug($"fd socket: closing a connection: {reason}");
        _loop.Remove(_reg);
        _fd.Dispose();
        CloseRegistered();
        _owner.Forget(this);
    }
}
