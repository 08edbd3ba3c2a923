using Podmon.Sys;

namespace Podmon.Tests.Sys;

/// <summary>
/// The one write-and-queue, against real fds: SEQPACKET socketpairs (records stay whole and in
/// order), stream socketpairs and pipes (bytes stay in order), a peer that is gone.
/// </summary>
public unsafe class OutboundBufferTests
{
    static (OwnedFd Ours, OwnedFd Peer) SocketPair(int type)
    {
        int* sv = stackalloc int[2];
        Assert.Equal(0, Libc.socketpair(Libc.AF_UNIX, type | Libc.SOCK_CLOEXEC | Libc.SOCK_NONBLOCK, 0, sv));
        var ours = new OwnedFd(sv[0]);
        int small = 4096; // fills after a few records
        Libc.setsockopt(sv[0], Libc.SOL_SOCKET, Libc.SO_SNDBUF, &small, sizeof(int));
        return (ours, new OwnedFd(sv[1]));
    }

    static byte[] Record(int n, int length)
    {
        var r = new byte[length];
        for (int i = 0; i < length; i++) r[i] = (byte)(n + i);
        return r;
    }

    /// <summary>Reads one record (or what a stream read gives); null on EAGAIN.</summary>
    static byte[]? ReadOne(OwnedFd fd, int max = 1 << 16)
    {
        var buf = new byte[max];
        nint n;
        fixed (byte* p = buf) n = Libc.recv(fd.Value, p, (nuint)max, Libc.MSG_DONTWAIT);
        return n < 0 ? null : buf[..(int)n];
    }

    [Fact]
    public void PacketsAreSentWholeAndInOrderWhenTheSocketFillsAndDrains()
    {
        var (ours, peer) = SocketPair(Libc.SOCK_SEQPACKET);
        using (ours) using (peer)
        {
            using var b = new OutboundBuffer(OutboundMode.Packets, new QueuePolicy(1 << 20, 1 << 20));
            int sent = 0;
            for (; b.Pending == 0 && sent < 10_000; sent++)
                Assert.Equal(QueueChange.None, b.Write(ours.Value, 2, Record(sent, 1000)));
            Assert.True(b.Pending > 0, "the socket never filled");
            for (int i = 0; i < 20; i++) b.Write(ours.Value, 3, Record(sent + i, 100 + i));
            int total = sent + 20;
            var got = new List<byte[]>();
            while (got.Count < total)
            {
                while (ReadOne(peer) is { } r) got.Add(r);
                b.Flush(ours.Value);
            }
            Assert.Equal(0, b.Pending);
            for (int i = 0; i < total; i++)
            {
                bool queuedTail = i >= sent;
                byte[] want = [(byte)(queuedTail ? 3 : 2), .. Record(i, queuedTail ? 100 + i - sent : 1000)];
                Assert.Equal(want, got[i]);
            }
        }
    }

    [Fact]
    public void BytesKeepTheirOrderOnAPipe()
    {
        OwnedFd[] p = Libc.Pipe(Libc.O_CLOEXEC | Libc.O_NONBLOCK);
        using OwnedFd r = p[0], w = p[1];
        using var b = new OutboundBuffer(OutboundMode.Pipe, new QueuePolicy(highWater: 1, lowWater: 1));
        var sent = new List<byte>();
        QueueChange first = QueueChange.None;
        for (int i = 0; b.Pending == 0; i++)
        {
            byte[] chunk = Record(i, 7000);
            first = b.Write(w.Value, chunk);
            sent.AddRange(chunk);
        }
        Assert.Equal(QueueChange.Backlogged, first); // the first queued byte
        for (int i = 0; i < 3; i++)
        {
            byte[] chunk = Record(200 + i, 333);
            Assert.Equal(QueueChange.None, b.Write(w.Value, chunk)); // behind the queue, never around it
            sent.AddRange(chunk);
        }
        var got = new List<byte>();
        QueueChange last = QueueChange.None;
        while (b.Pending > 0)
        {
            var buf = new byte[65536];
            nint n = Libc.Read(r.Value, buf);
            if (n > 0) got.AddRange(buf[..(int)n]);
            last = b.Flush(w.Value);
        }
        Assert.Equal(QueueChange.Relieved, last);
        while (true)
        {
            var buf = new byte[65536];
            nint n = Libc.Read(r.Value, buf);
            if (n <= 0) break;
            got.AddRange(buf[..(int)n]);
        }
        Assert.Equal(sent, got);
    }

    [Fact]
    public void AStreamSocketBacklogsAtItsHighMark()
    {
        var (ours, peer) = SocketPair(Libc.SOCK_STREAM);
        using (ours) using (peer)
        {
            using var b = new OutboundBuffer(OutboundMode.Stream, new QueuePolicy(highWater: 64 * 1024, lowWater: 64 * 1024), keepBytes: 0);
            var frame = new byte[16 * 1024];
            var changes = new List<QueueChange>();
            for (int i = 0; i < 12; i++) changes.Add(b.Append(frame));
            Assert.Equal(QueueChange.Backlogged, changes[3]); // 64 KiB queued
            Assert.All(changes.Where((_, i) => i != 3), c => Assert.Equal(QueueChange.None, c));
            int read = 0;
            while (b.Pending > 0)
            {
                b.Flush(ours.Value);
                while (ReadOne(peer) is { Length: > 0 } r) read += r.Length;
            }
            while (ReadOne(peer) is { Length: > 0 } r) read += r.Length;
            Assert.Equal(12 * frame.Length, read);
            Assert.False(b.Backlogged);
        }
    }

    [Fact]
    public void OverflowIsRefusedAndNothingOfItQueued()
    {
        var (ours, peer) = SocketPair(Libc.SOCK_SEQPACKET);
        using (ours) using (peer)
        {
            using var b = new OutboundBuffer(OutboundMode.Packets, new QueuePolicy(100_000, 10_000, maxQueued: 50_000));
            while (b.Pending == 0) b.Write(ours.Value, 2, new byte[1000]);
            int before;
            do
            {
                before = b.Pending;
            } while (b.Write(ours.Value, 2, new byte[1000]) == QueueChange.None);
            Assert.Equal(before, b.Pending);
            Assert.True(before + 1001 > 50_000);
        }
    }

    [Fact]
    public void APeerThatIsGoneFailsWithItsErrno()
    {
        var (ours, peer) = SocketPair(Libc.SOCK_SEQPACKET);
        peer.Dispose();
        using (ours)
        {
            using var b = new OutboundBuffer(OutboundMode.Packets, new QueuePolicy(1 << 20, 1 << 20));
            Assert.Equal(QueueChange.Failed, b.Write(ours.Value, 2, "x"u8));
            Assert.Equal(Errno.EPIPE, b.Error);
        }
        OwnedFd[] p = Libc.Pipe(Libc.O_CLOEXEC | Libc.O_NONBLOCK);
        p[0].Dispose();
        using (p[1])
        {
            using var b = new OutboundBuffer(OutboundMode.Pipe, new QueuePolicy(1, 1));
            Assert.Equal(QueueChange.Failed, b.Write(p[1].Value, "x"u8));
            Assert.Equal(Errno.EPIPE, b.Error);
        }
    }

    [Fact]
    public void AnEmptiedBigBufferIsNotKept()
    {
        var (ours, peer) = SocketPair(Libc.SOCK_STREAM);
        using (ours) using (peer)
        {
            using var b = new OutboundBuffer(OutboundMode.Stream, new QueuePolicy(int.MaxValue, int.MaxValue), keepBytes: 16 * 1024);
            b.Append(new byte[2 * BufferPool.MaxPooledBytes]);
            var field = typeof(OutboundBuffer).GetField("_buf", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;
            byte[] big = (byte[])field.GetValue(b)!;
            Assert.True(big.Length >= 2 * BufferPool.MaxPooledBytes);
            while (b.Pending > 0)
            {
                b.Flush(ours.Value);
                while (ReadOne(peer) is { Length: > 0 }) { }
            }
            Assert.Empty((byte[])field.GetValue(b)!);
            // Not in the shared pool either: the pool hands a returned array back first on the same thread.
            byte[] rented = System.Buffers.ArrayPool<byte>.Shared.Rent(BufferPool.MaxPooledBytes);
            Assert.NotSame(big, rented);
            System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
