using Podmon.Sys;
using Podmon.Tracing.Http2;

namespace Podmon.Tracing;

/// <summary>
/// A non-blocking stream socket used synchronously by the exporter thread: each read or write
/// waits in poll(2) on the socket and the <see cref="Wakeup"/>, until the call's deadline or the
/// tracer's stop deadline, whichever comes first. So a collector that accepts and never answers
/// holds the exporter for one export timeout at most, and a stopping tracer for its shutdown bound.
/// The channel owns the socket.
/// </summary>
internal sealed unsafe class SocketChannel(OwnedFd socket, Wakeup wakeup, string peer) : IByteChannel
{
    /// <summary>
    /// Connects to <paramref name="address"/>:<paramref name="port"/> by <paramref name="deadlineMs"/>
    /// (or the stop deadline); the errors name <paramref name="peer"/>.
    /// </summary>
    public static SocketChannel Connect(ReadOnlySpan<byte> address, int port, string peer, Wakeup wakeup, long deadlineMs)
    {
        OwnedFd fd = Libc.StartConnectTcp(address, port, peer, out bool inProgress);
        var channel = new SocketChannel(fd, wakeup, peer);
        try
        {
            if (inProgress)
            {
                channel.Wait(Libc.POLLOUT, deadlineMs, "connect");
                Libc.ConnectResult(fd.Value, peer);
            }
            return channel;
        }
        catch
        {
            channel.Dispose();
            throw;
        }
    }

    public int Read(Span<byte> buffer, long deadlineMs)
    {
        fixed (byte* p = buffer)
            while (true)
            {
                nint n = Libc.recv(socket.Value, p, (nuint)buffer.Length, Libc.MSG_DONTWAIT);
                if (n >= 0) return (int)n;
                int err = Errno.Last;
                if (err == Errno.EINTR) continue;
                if (err != Errno.EAGAIN) throw new SyscallException("recv", err, peer);
                Wait(Libc.POLLIN, deadlineMs, "read");
            }
    }

    public bool Readable()
    {
        var p = new Libc.PollFd { Fd = socket.Value, Events = Libc.POLLIN };
        return Libc.poll(&p, 1, 0) > 0;
    }

    public void Write(ReadOnlySpan<byte> data, long deadlineMs)
    {
        fixed (byte* p = data)
        {
            int done = 0;
            while (done < data.Length)
            {
                nint n = Libc.send(socket.Value, p + done, (nuint)(data.Length - done), Libc.MSG_DONTWAIT | Libc.MSG_NOSIGNAL);
                if (n >= 0)
                {
                    done += (int)n;
                    continue;
                }
                int err = Errno.Last;
                if (err == Errno.EINTR) continue;
                if (err != Errno.EAGAIN) throw new SyscallException("send", err, peer);
                Wait(Libc.POLLOUT, deadlineMs, "write");
            }
        }
    }

    void Wait(short events, long deadlineMs, string what)
    {
        var fds = stackalloc Libc.PollFd[2];
        while (true)
        {
            long deadline = Math.Min(deadlineMs, wakeup.StopDeadlineMs);
            long left = deadline - Libc.MonotonicMs();
            if (left <= 0)
                throw new TimeoutException(wakeup.StopDeadlineMs <= deadlineMs
                    ? $"{what} {peer}: the tracer stopped waiting" : $"{what} {peer}: timed out");
            fds[0] = new Libc.PollFd { Fd = socket.Value, Events = events };
            fds[1] = new Libc.PollFd { Fd = wakeup.Fd, Events = Libc.POLLIN };
            int n = Libc.poll(fds, 2, (int)Math.Min(left, int.MaxValue));
            if (n < 0)
            {
                if (Errno.Last == Errno.EINTR) continue;
                throw new SyscallException("poll", Errno.Last, peer);
            }
            if ((fds[1].REvents & Libc.POLLIN) != 0) wakeup.Drain();
            if (fds[0].REvents != 0) return; // ready, or an error the next call reports
        }
    }

    public void Dispose() => socket.Dispose();
}
