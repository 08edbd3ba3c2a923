using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Podmon.Sys;

namespace Podmon.IntegrationTests.Rpc;

/// <summary>A raw client of the fd socket (conmon-rs's protocol over SOCK_SEQPACKET), like the Go client's RemoteFDs.</summary>
sealed class FdSocketClient : IDisposable
{
    public const uint ErrorCount = 0xffff_ffff;
    readonly Socket _s = new(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);

    public FdSocketClient(string path)
    {
        _s.Connect(new UnixDomainSocketEndPoint(path));
        _s.ReceiveTimeout = 10_000;
    }

    public static byte[] Header(uint requestId, uint count)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, (ulong)requestId << 32 | count);
        return b;
    }

    /// <summary>One packet: the bytes with the fds attached (SCM_RIGHTS) when there are any.</summary>
    public void SendRaw(byte[] data, params int[] fds)
    {
        if (fds.Length == 0) _s.Send(data);
        else UnixSocket.SendWithFds((int)_s.Handle, data, fds);
    }

    /// <summary>The next reply packet: its u64 header and the rest.</summary>
    public (ulong Header, byte[] Body) Receive()
    {
        var buf = new byte[8 + 253 * 8 + 1024];
        int n = _s.Receive(buf);
        Assert.True(n >= 8, $"reply of {n} bytes");
        return (BinaryPrimitives.ReadUInt64LittleEndian(buf), buf[8..n]);
    }

    /// <summary>Sends <paramref name="fds"/> as request <paramref name="requestId"/>; returns their slots.</summary>
    public ulong[] Send(uint requestId, params int[] fds)
    {
        SendRaw(Header(requestId, (uint)fds.Length), fds);
        var (header, rest) = Receive();
        Assert.True((uint)header != ErrorCount, $"server error: {Encoding.UTF8.GetString(rest)}");
        Assert.Equal((ulong)requestId << 32 | (uint)fds.Length, header);
        Assert.Equal(8 * fds.Length, rest.Length);
        return Enumerable.Range(0, fds.Length).Select(i => BinaryPrimitives.ReadUInt64LittleEndian(rest.AsSpan(8 * i))).ToArray();
    }

    /// <summary>The error reply to request <paramref name="requestId"/>: its text.</summary>
    public string ReceiveError(uint requestId)
    {
        var (header, rest) = Receive();
        Assert.Equal((ulong)requestId << 32 | ErrorCount, header);
        return Encoding.UTF8.GetString(rest);
    }

    /// <summary>The all-zero request: closes what this connection registered; no reply.</summary>
    public void CloseRegistered() => SendRaw(new byte[8]);

    public void Dispose() => _s.Dispose();
}

/// <summary>A non-blocking pipe whose write end is handed to the server; the test keeps the read end.</summary>
sealed class TestPipe : IDisposable
{
    public readonly OwnedFd Read, Write;

    public TestPipe()
    {
        OwnedFd[] p = Libc.Pipe(Libc.O_CLOEXEC | Libc.O_NONBLOCK);
        (Read, Write) = (p[0], p[1]);
    }

    /// <summary>"pipe:[inode]": what both ends (and every copy) link to in /proc/PID/fd.</summary>
    public string Identity => new FileInfo($"/proc/self/fd/{Read.Value}").LinkTarget!;

    /// <summary>Everything buffered, and whether the pipe is at EOF (no write end left anywhere).</summary>
    public (string Text, bool Eof) Drain()
    {
        var text = new StringBuilder();
        var buf = new byte[4096];
        while (true)
        {
            nint n = Libc.Read(Read.Value, buf);
            if (n > 0) text.Append(Encoding.UTF8.GetString(buf, 0, (int)n));
            else if (n == 0) return (text.ToString(), true);
            else if (Errno.Last == Errno.EAGAIN) return (text.ToString(), false);
            else throw new SyscallException("read", Errno.Last);
        }
    }

    /// <summary>How many fds of <paramref name="pid"/> are a copy of this pipe.</summary>
    public int CopiesIn(int pid)
    {
        string id = Identity;
        int n = 0;
        foreach (string fd in Directory.GetFiles($"/proc/{pid}/fd"))
        {
            try { if (new FileInfo(fd).LinkTarget == id) n++; }
            catch (IOException) { } // closed meanwhile
        }
        return n;
    }

    public void Dispose()
    {
        Read.Dispose();
        Write.Dispose();
    }
}
