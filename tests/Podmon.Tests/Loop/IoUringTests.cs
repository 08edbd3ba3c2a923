using System.Security.Cryptography;
using Podmon.Containers;
using Podmon.Logging;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Tests.Loop;

/// <summary>
/// The loop on an io_uring and container output read through it: byte-exact streams, more
/// pipes with data than provided buffers, pausing, epoll readiness still delivered (level-triggered
/// included), and a ring failing mid-stream moving every reader to epoll without losing a byte.
/// This kernel allows io_uring; a machine that refuses it fails here with the reason.
/// </summary>
public sealed unsafe class IoUringTests : IDisposable
{
    readonly EventLoop _loop;

    public IoUringTests()
    {
        IoUring? ring = IoUring.TryCreate(out string? reason);
        Assert.True(ring is not null, $"io_uring unavailable: {reason}");
        _loop = new EventLoop(ring);
    }

    public void Dispose() => _loop.Dispose();

    sealed class Collector : IOutputSink
    {
        public readonly MemoryStream Data = new();
        public int Chunks;
        public void OnOutput(Pipe pipe, ReadOnlySpan<byte> data)
        {
            Data.Write(data);
            Chunks++;
        }
    }

    (OutputReader Reader, OwnedFd Write, Collector Sink) NewReader()
    {
        OwnedFd[] p = Libc.Pipe();
        var sink = new Collector();
        return (new OutputReader(_loop, p[0], Pipe.Stdout, sink), p[1], sink);
    }

    void RunUntil(Func<bool> done, int maxMs = 10_000)
    {
        long end = Libc.MonotonicMs() + maxMs;
        while (!done() && Libc.MonotonicMs() < end) _loop.RunOnce(10);
        Assert.True(done());
    }

    static Thread Writer(OwnedFd fd, byte[] data, int piece) => new(() =>
    {
        for (int off = 0; off < data.Length; off += piece) Libc.WriteAll(fd.Value, data.AsSpan(off, Math.Min(piece, data.Length - off)));
        fd.Dispose();
    });

    [Theory]
    [InlineData(100)]
    [InlineData(65536)]
    [InlineData(1 << 20)]
    public void AStreamIsReadByteExactThroughTheRing(int piece)
    {
        var (reader, w, sink) = NewReader();
        Assert.True(reader.OnRing);
        byte[] data = RandomNumberGenerator.GetBytes(3 << 20);
        Thread t = Writer(w, data, piece);
        t.Start();
        RunUntil(() => !reader.IsOpen); // EOF closes it
        t.Join();
        Assert.Equal(data, sink.Data.ToArray());
    }

    [Fact]
    public void ProvidedBuffersHoldNoMemoryOnceReleased()
    {
        ProvidedBuffers buffers = _loop.Ring!.Buffers;
        var (reader, w, sink) = NewReader();
        byte[] data = RandomNumberGenerator.GetBytes(1 << 20);
        Thread t = Writer(w, data, 65536);
        t.Start();
        RunUntil(() => !reader.IsOpen);
        t.Join();
        Assert.True(buffers.ResidentBytes() >= ProvidedBuffers.Size);
        buffers.Release();
        Assert.Equal(0, buffers.ResidentBytes());
        var (again, w2, sink2) = NewReader(); // released buffers still serve reads
        Libc.WriteAll(w2.Value, "after"u8);
        w2.Dispose();
        RunUntil(() => !again.IsOpen);
        Assert.Equal("after"u8.ToArray(), sink2.Data.ToArray());
        Assert.Equal(data, sink.Data.ToArray());
    }

    [Fact]
    public void MorePipesWithDataThanBuffersAreAllRead()
    {
        var readers = Enumerable.Range(0, ProvidedBuffers.Count * 3).Select(_ => NewReader()).ToList();
        byte[] data = RandomNumberGenerator.GetBytes(48 * 1024);
        foreach (var (_, w, _) in readers)
        {
            Libc.WriteAll(w.Value, data);
            w.Dispose();
        }
        RunUntil(() => readers.All(r => !r.Reader.IsOpen));
        Assert.All(readers, r => Assert.Equal(data, r.Sink.Data.ToArray()));
    }

    [Fact]
    public void APausedReaderDeliversNothingUntilResumed()
    {
        var (reader, w, sink) = NewReader();
        Libc.WriteAll(w.Value, "first"u8);
        RunUntil(() => sink.Data.Length == 5);
        Libc.WriteAll(w.Value, "second"u8); // its read is already waiting on the ring
        reader.SetPaused(true);
        for (int i = 0; i < 5; i++) _loop.RunOnce(10);
        Assert.Equal(5, sink.Data.Length);
        reader.SetPaused(false);
        RunUntil(() => sink.Data.Length == 11);
        Assert.Equal("firstsecond"u8.ToArray(), sink.Data.ToArray());
        w.Dispose();
        RunUntil(() => !reader.IsOpen);
    }

    sealed class OneByteAtATime(int fd) : IEventHandler
    {
        public int Bytes;
        public void OnEvents(uint events)
        {
            byte b;
            if (Libc.read(fd, &b, 1) == 1) Bytes++;
        }
    }

    [Fact]
    public void EpollReadinessStillArrivesIncludingALevelTriggeredFdLeftReady()
    {
        OwnedFd[] p = Libc.Pipe();
        Libc.SetNonBlocking(p[0].Value);
        var h = new OneByteAtATime(p[0].Value);
        Registration reg = _loop.Add(p[0].Value, Libc.EPOLLIN, h);
        Libc.WriteAll(p[1].Value, "abc"u8); // one wakeup of the epoll set, three events' worth
        RunUntil(() => h.Bytes == 3, maxMs: 2000);
        var fired = false;
        _loop.Timers.Schedule(new LoopTimer(new ActionTimer(() => fired = true)), Libc.MonotonicMs() + 5);
        RunUntil(() => fired, maxMs: 2000);
        _loop.Remove(reg);
        p[0].Dispose();
        p[1].Dispose();
    }

    [Fact]
    public void ARingFailureMidStreamMovesReadersToEpollWithoutLoss()
    {
        var (reader, w, sink) = NewReader();
        var (idle, idleW, idleSink) = NewReader(); // a read waiting on an idle pipe when the ring goes
        byte[] data = RandomNumberGenerator.GetBytes(4 << 20);
        Thread t = Writer(w, data, 16 * 1024);
        t.Start();
        RunUntil(() => sink.Data.Length > 0);
        _loop.FailRing("test");
        Assert.Null(_loop.Ring);
        Assert.False(reader.OnRing);
        Assert.False(idle.OnRing);
        RunUntil(() => !reader.IsOpen);
        t.Join();
        Assert.Equal(data, sink.Data.ToArray());
        Libc.WriteAll(idleW.Value, "late"u8);
        idleW.Dispose();
        RunUntil(() => !idle.IsOpen);
        Assert.Equal("late"u8.ToArray(), idleSink.Data.ToArray());
    }

    [Fact]
    public void ARingThatBreaksDeliversWhatItAlreadyReadThenMovesToEpoll()
    {
        var readers = Enumerable.Range(0, 3).Select(_ => NewReader()).ToList();
        byte[] data = RandomNumberGenerator.GetBytes(40 * 1024);
        foreach (var (_, w, _) in readers) Libc.WriteAll(w.Value, data); // the reads waiting on the ring complete in the next wait
        _loop.Ring!.Break(Errno.ENOMEM);
        _loop.RunOnce(100);
        Assert.Null(_loop.Ring);
        Assert.All(readers, r => Assert.False(r.Reader.OnRing));
        foreach (var (_, w, _) in readers) w.Dispose();
        RunUntil(() => readers.All(r => !r.Reader.IsOpen));
        Assert.All(readers, r => Assert.Equal(data, r.Sink.Data.ToArray()));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ExitSyncOfTheLogsRunsOnTheRingAndFinishesOnceEvenIfTheRingFails(bool failRing)
    {
        string dir = Directory.CreateTempSubdirectory("podmon-ringsync-").FullName;
        try
        {
            using ContainerLog log = ContainerLog.Open(
                [new LogDriverConfig(LogDriverType.ContainerRuntimeInterface, Path.Combine(dir, "a.log")),
                 new LogDriverConfig(LogDriverType.Json, Path.Combine(dir, "b.json"))], "c1", "/nonexistent");
            log.Write(Pipe.Stdout, "line\n"u8, LogTime.Now());
            int done = 0;
            log.Sync(_loop, () => done++);
            Assert.Equal(0, done); // the fsyncs are on the ring; the loop is free meanwhile
            if (failRing) _loop.FailRing("test");
            RunUntil(() => done > 0);
            for (int i = 0; i < 3; i++) _loop.RunOnce(5);
            Assert.Equal(1, done);
            Assert.EndsWith(" stdout F line\n", File.ReadAllText(Path.Combine(dir, "a.log")));
            Assert.Contains("\"message\":\"line\"", File.ReadAllText(Path.Combine(dir, "b.json")));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
