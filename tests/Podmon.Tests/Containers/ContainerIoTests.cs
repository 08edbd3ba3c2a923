using System.Text;
using Podmon.Containers;
using Podmon.Logging;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Tests.Containers;

/// <summary>ContainerIo without a runtime: the fd map each mode hands the runtime, where output goes, the output gate.</summary>
public sealed class ContainerIoTests : IDisposable
{
    readonly EventLoop _loop = TestLoop.Create();
    readonly string _dir = Directory.CreateTempSubdirectory("podmon-io-").FullName;
    readonly Recorder _sink = new();

    sealed class Recorder : IOutputSink
    {
        public readonly StringBuilder Stdout = new(), Stderr = new();
        public void OnOutput(Pipe pipe, ReadOnlySpan<byte> data) => (pipe == Pipe.Stdout ? Stdout : Stderr).Append(Encoding.UTF8.GetString(data));
    }

    public void Dispose()
    {
        _loop.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    static void Write(int fd, string text) => Libc.WriteAll(fd, Encoding.UTF8.GetBytes(text));

    void RunUntil(Func<bool> done)
    {
        for (int i = 0; i < 200 && !done(); i++) _loop.RunOnce(10);
        Assert.True(done());
    }

    [Fact]
    public void PipesGiveTheRuntimeThreeEndsAndTheSinkWhatItWrites()
    {
        using var io = new ContainerIo(_loop, IoMode.Pipes, stdin: true, _sink, _dir);
        Assert.Equal([0, 1, 2], io.ChildFds.Select(f => f.ChildFd));
        Assert.All(io.ChildFds, f => Assert.True(f.ParentFd > 2));
        Assert.Equal(3, io.ChildFds.Select(f => f.ParentFd).Distinct().Count());
        Assert.Null(io.ConsoleSocketPath);
        Assert.NotNull(io.Stdin);

        Write(io.ChildFds[1].ParentFd, "out");
        Write(io.ChildFds[2].ParentFd, "err");
        RunUntil(() => _sink.Stdout.Length == 3 && _sink.Stderr.Length == 3);
        Assert.Equal("out", _sink.Stdout.ToString());
        Assert.Equal("err", _sink.Stderr.ToString());

        io.Stdin!.Write("in"u8);
        var buf = new byte[16];
        Assert.Equal(2, Libc.Read(io.ChildFds[0].ParentFd, buf));
        Assert.Equal("in"u8.ToArray(), buf[..2]);
        Assert.Equal(0, io.RuntimeOutput.Length);
    }

    [Fact]
    public void WithoutStdinTheRuntimeGetsDevNull()
    {
        using var io = new ContainerIo(_loop, IoMode.Pipes, stdin: false, _sink, _dir);
        Assert.Equal((0, -1), io.ChildFds[0]);
        Assert.Null(io.Stdin);
    }

    [Fact]
    public void PassthroughHandsOverOurOwnStdio()
    {
        using var io = new ContainerIo(_loop, IoMode.Passthrough, stdin: true, _sink, _dir);
        Assert.Equal([(0, 0), (1, 1), (2, 2)], io.ChildFds);
        Assert.Null(io.Stdout);
        Assert.Null(io.ConsoleSocketPath);
    }

    [Fact]
    public void ATerminalCapturesTheRuntimesOwnOutputAndOffersAConsoleSocket()
    {
        var io = new ContainerIo(_loop, IoMode.Terminal, stdin: true, _sink, _dir, "t");
        string socket = Directory.GetFiles(_dir).Single();
        Assert.StartsWith("t-", Path.GetFileName(socket));
        Assert.NotNull(io.ConsoleSocketPath);
        Assert.Equal((0, -1), io.ChildFds[0]);
        Write(io.ChildFds[1].ParentFd, "runc says ");
        Write(io.ChildFds[2].ParentFd, "no");
        io.CloseChildEnds();
        io.DrainRuntimeMessages();
        Assert.Equal("runc says no", io.RuntimeOutput.Text());
        Assert.Equal(0, _sink.Stdout.Length);
        Assert.False(io.ConnectTerminal(stdin: true, onlcr: true)); // nothing was sent
        Assert.Equal(-1, io.TerminalFd);
        io.Dispose();
        Assert.Empty(Directory.GetFiles(_dir)); // the console socket is removed
    }

    [Fact]
    public void TheGateHoldsOutputWhileAnyHolderIsBacklogged()
    {
        using var io = new ContainerIo(_loop, IoMode.Pipes, stdin: false, _sink, _dir);
        io.Gate.Hold();
        io.Gate.Hold();
        Write(io.ChildFds[1].ParentFd, "held");
        for (int i = 0; i < 5; i++) _loop.RunOnce(10);
        Assert.Equal(0, _sink.Stdout.Length);
        io.Gate.Release();
        for (int i = 0; i < 5; i++) _loop.RunOnce(10);
        Assert.Equal(0, _sink.Stdout.Length); // one holder is still behind
        io.Gate.Release();
        RunUntil(() => _sink.Stdout.Length == 4);
        Assert.Throws<InvalidOperationException>(io.Gate.Release);
    }

    sealed class HoldingSink : IOutputSink
    {
        public ContainerIo? Io;
        public int Chunks;
        public long Bytes;
        public void OnOutput(Pipe pipe, ReadOnlySpan<byte> data)
        {
            if (Chunks++ == 0) Io!.Gate.Hold(); // an attach client fell behind on this very chunk
            Bytes += data.Length;
        }
    }

    [Fact]
    public void AReaderHeldFromInsideItsSinkReadsNothingMoreUntilReleased()
    {
        var sink = new HoldingSink();
        using var io = new ContainerIo(_loop, IoMode.Pipes, stdin: false, sink, _dir);
        sink.Io = io;
        int fd = io.ChildFds[1].ParentFd;
        var writer = new Thread(() =>
        {
            try { Libc.WriteAll(fd, new byte[1 << 20]); }
            catch (SyscallException) { } // the test failed and closed the pipe
        });
        writer.Start();
        RunUntil(() => sink.Chunks == 1);
        for (int i = 0; i < 10; i++) _loop.RunOnce(10);
        Assert.Equal(1, sink.Chunks); // not the rest of the event's reads, nor the next rest's
        io.Gate.Release();
        RunUntil(() => sink.Bytes == 1 << 20);
        writer.Join();
    }

    [Fact]
    public void AttachClientsAreWaitedForOnlyOnceDone()
    {
        using var io = new ContainerIo(_loop, IoMode.Pipes, stdin: false, _sink, _dir);
        Assert.Throws<InvalidOperationException>(() => io.Attach.WhenClientsGone(() => { }));
        io.Attach.Done();
        bool gone = false;
        io.Attach.WhenClientsGone(() => gone = true);
        Assert.True(gone); // no client was left
    }

    [Fact]
    public void AnAttachSocketRemovedByTheClientIsServedAgainWithoutLeakingTheOldOne()
    {
        // CRI-O's conmon-rs client removes the socket after each attach and asks again next time.
        using var io = new ContainerIo(_loop, IoMode.Pipes, stdin: false, _sink, _dir);
        string path = Path.Combine(_dir, "attach");
        for (int i = 0; i < 3; i++)
        {
            io.Attach.Listen(path, stopAfterStdinEof: false);
            using (OwnedFd client = UnixSocket.Connect(path, Libc.SOCK_SEQPACKET))
                RunUntil(() => io.Attach.ClientCount >= 1);
            Assert.Equal(1, io.Attach.ListenerCount);
            File.Delete(path);
        }
        io.Attach.Listen(path, stopAfterStdinEof: false);
        io.Attach.Listen(path, stopAfterStdinEof: false); // exists: already served
        Assert.Equal(1, io.Attach.ListenerCount);
    }

    [Fact]
    public unsafe void ASlowAttachClientHoldsTheGateAndIsWaitedForAfterDone()
    {
        using var io = new ContainerIo(_loop, IoMode.Pipes, stdin: false, _sink, _dir);
        string path = Path.Combine(_dir, "attach");
        io.Attach.Listen(path, stopAfterStdinEof: false);
        using OwnedFd client = UnixSocket.Connect(path, Libc.SOCK_SEQPACKET);
        RunUntil(() => io.Attach.ClientCount == 1);
        var chunk = new byte[8191];
        int sent = 0;
        while (!io.Gate.IsHeld && sent < 4 << 20)
        {
            io.Attach.Broadcast(Pipe.Stdout, chunk);
            sent += chunk.Length;
        }
        Assert.True(io.Gate.IsHeld, "a client that reads nothing never held the output");
        io.Attach.Done();
        bool gone = false;
        io.Attach.WhenClientsGone(() => gone = true);
        Assert.False(gone); // it still has its last output to take
        long received = 0;
        var buf = new byte[8192];
        for (int i = 0; i < 2000 && !gone; i++)
        {
            nint n;
            fixed (byte* p = buf) while ((n = Libc.recv(client.Value, p, (nuint)buf.Length, Libc.MSG_DONTWAIT)) > 0) received += n - 1;
            _loop.RunOnce(1);
        }
        Assert.True(gone);
        Assert.False(io.Gate.IsHeld);
        fixed (byte* p = buf) while (Libc.recv(client.Value, p, (nuint)buf.Length, Libc.MSG_DONTWAIT) is > 0 and var n) received += n - 1 ;
        Assert.Equal(sent, received);
    }
}
