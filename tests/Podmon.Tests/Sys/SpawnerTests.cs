using System.Text;
using Podmon.Sys;

namespace Podmon.Tests.Sys;

public unsafe class SpawnerTests
{
    static string ReadAll(OwnedFd fd)
    {
        var sb = new StringBuilder();
        byte* buf = stackalloc byte[4096];
        nint n;
        while ((n = Libc.read(fd.Value, buf, 4096)) > 0) sb.Append(Encoding.UTF8.GetString(buf, (int)n));
        return sb.ToString();
    }

    static int Wait(SpawnedProcess p)
    {
        Libc.SigInfo info;
        Errno.Check(Libc.waitid(Libc.P_PIDFD, p.Pidfd!.Value, &info, Libc.WEXITED), "waitid");
        p.Pidfd.Dispose();
        return Libc.ExitCode(info);
    }

    [Fact]
    public void ExecFailureIsReportedWithErrnoAndStep()
    {
        var e = Assert.Throws<SyscallException>(() =>
            Spawner.Spawn(new SpawnRequest { Path = "/nonexistent/runc", Argv = ["runc"] }));
        Assert.Equal("execve", e.Call);
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.Contains("/nonexistent/runc", e.Message);
    }

    [Fact]
    public void ChdirFailureNamesTheStep()
    {
        var e = Assert.Throws<SyscallException>(() => Spawner.Spawn(new SpawnRequest
        {
            Path = "/bin/true", Argv = ["true"], WorkingDirectory = "/nonexistent-dir",
        }));
        Assert.Equal("chdir", e.Call);
    }

    [Fact]
    public void FdMapEnvironmentAndExitCode()
    {
        OwnedFd[] p = Libc.Pipe();
        using var r = p[0];
        var child = Spawner.Spawn(new SpawnRequest
        {
            Path = "/bin/sh",
            Argv = ["sh", "-c", "echo \"$GREETING\"; ls /proc/self/fd | wc -l >&2; exit 3"],
            Environment = ["GREETING=hello podmon"],
            Fds = { (0, -1), (1, p[1].Value), (2, p[1].Value) },
        });
        p[1].Dispose();
        string output = ReadAll(r);
        Assert.Equal(3, Wait(child));
        string[] lines = output.Trim().Split('\n');
        Assert.Equal("hello podmon", lines[0]);
        Assert.Equal("4", lines[1].Trim()); // 0, 1, 2 and ls's own directory fd: nothing leaked
    }

    [Fact]
    public void SwappedFdsDoNotClobberEachOther()
    {
        OwnedFd[] a = Libc.Pipe(), b = Libc.Pipe();
        // Map child fd 3 <- b's write end and fd 4 <- a's write end, whatever their numbers are.
        var child = Spawner.Spawn(new SpawnRequest
        {
            Path = "/bin/sh",
            Argv = ["sh", "-c", "echo three >&3; echo four >&4"],
            Fds = { (3, b[1].Value), (4, a[1].Value) },
        });
        a[1].Dispose();
        b[1].Dispose();
        Assert.Equal("four\n", ReadAll(a[0]));
        Assert.Equal("three\n", ReadAll(b[0]));
        Assert.Equal(0, Wait(child));
        a[0].Dispose();
        b[0].Dispose();
    }

    [Fact]
    public void ChildStartsWithEmptySignalMaskAndNewSession()
    {
        OwnedFd[] p = Libc.Pipe();
        using var r = p[0];
        Errno.Check(Native.SigprocmaskBlocked(0), "sigprocmask"); // blocked here, as in podmon
        var child = Spawner.Spawn(new SpawnRequest
        {
            Path = "/bin/sh",
            Argv = ["sh", "-c", "exec grep -E '^(SigBlk|NSsid|Pid)' /proc/self/status"],
            Fds = { (1, p[1].Value) },
        });
        p[1].Dispose();
        string status = ReadAll(r);
        Wait(child);
        Assert.Contains("SigBlk:\t0000000000000000", status);
        string pid = status.Split('\n').First(l => l.StartsWith("Pid:")).Split('\t')[1];
        string sid = status.Split('\n').First(l => l.StartsWith("NSsid:")).Split('\t')[1];
        Assert.Equal(pid, sid);
    }
}
