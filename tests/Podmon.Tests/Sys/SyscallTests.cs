using Podmon.Sys;

namespace Podmon.Tests.Sys;

public unsafe class SyscallTests
{
    [Fact]
    public void FailedCallCarriesErrnoAndName()
    {
        var e = Assert.Throws<SyscallException>(() =>
            OwnedFd.Check(Libc.open("/nonexistent/podmon", Libc.O_RDONLY, 0), "open", "/nonexistent/podmon"));
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.Equal("open", e.Call);
        Assert.Equal("open /nonexistent/podmon: No such file or directory (ENOENT)", e.Message);
    }

    [Fact]
    public void ErrnoNamesAndUnknownNumbers()
    {
        Assert.Equal("Bad file descriptor (EBADF)", Errno.Describe(Errno.EBADF));
        Assert.Equal("EAGAIN", Errno.Name(Errno.EAGAIN));
        Assert.Null(Errno.Name(4095));
        Assert.EndsWith("(errno 4095)", Errno.Describe(4095));
    }

    [Fact]
    public void CloseOfBadFdIsEbadf()
    {
        var e = Assert.Throws<SyscallException>(() => Errno.Check(Libc.close(99999), "close"));
        Assert.Equal(Errno.EBADF, e.Errno);
    }

    [Fact]
    public void OwnedFdClosesExactlyOnce()
    {
        OwnedFd[] p = Libc.Pipe();
        int raw = p[0].Value;
        string pipe = FdTarget(raw)!;
        p[0].Dispose();
        p[0].Dispose(); // idempotent: never closes a reused number
        Assert.True(p[0].IsClosed);
        Assert.Throws<ObjectDisposedException>(() => p[0].Value);
        // Really closed: the number is free or (other tests run in parallel) reused for something else.
        Assert.NotEqual(pipe, FdTarget(raw));
        p[1].Dispose();
    }

    static string? FdTarget(int fd)
    {
        try { return new FileInfo($"/proc/self/fd/{fd}").LinkTarget; }
        catch (IOException) { return null; }
    }

    [Fact]
    public void ReleaseTransfersOwnership()
    {
        OwnedFd[] p = Libc.Pipe();
        int raw = p[0].Release();
        p[0].Dispose(); // no longer the owner: must not close
        Assert.True(Libc.fcntl(raw, Libc.F_GETFD, 0) >= 0);
        Assert.Throws<ObjectDisposedException>(() => p[0].Release());
        using var adopted = new OwnedFd(raw);
        p[1].Dispose();
    }

    [Fact]
    public void PipeRoundTripAndNonBlockingEagain()
    {
        OwnedFd[] p = Libc.Pipe();
        using var r = p[0];
        using var w = p[1];
        Libc.SetNonBlocking(r.Value);
        byte b;
        Assert.Equal(-1, (int)Libc.read(r.Value, &b, 1));
        Assert.Equal(Errno.EAGAIN, Errno.Last);
        Libc.WriteAll(w.Value, "x"u8);
        Assert.Equal(1, (int)Libc.read(r.Value, &b, 1));
        Assert.Equal((byte)'x', b);
    }

    [Fact]
    public void PidfdSignalsAndReportsExit()
    {
        var child = Spawner.Spawn(new SpawnRequest { Path = "/bin/sleep", Argv = ["sleep", "30"] });
        using OwnedFd pidfd = child.Pidfd!;
        Errno.Check(Native.PidfdSendSignal(pidfd.Value, Libc.SIGKILL, 0), "pidfd_send_signal");
        Libc.SigInfo info;
        Errno.Check(Libc.waitid(Libc.P_PIDFD, pidfd.Value, &info, Libc.WEXITED), "waitid");
        Assert.Equal(child.Pid, info.Pid);
        Assert.Equal(137, Libc.ExitCode(info));
    }
}
