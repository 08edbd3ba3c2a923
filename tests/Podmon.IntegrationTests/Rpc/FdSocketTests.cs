using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using Podmon.Sys;
using Podmon.IntegrationTests.Containers.Fixtures;

namespace Podmon.IntegrationTests.Rpc;

/// <summary>
/// startFdSocket and createContainer's additionalFds/leakFds against the published binary: the
/// reference client for the RPCs, a raw SEQPACKET client for the fd protocol, real runc containers
/// writing to the fds they were handed; what the server holds is read from /proc/PID/fd.
/// </summary>
public class FdSocketTests(RuncFixture fx) : IClassFixture<RuncFixture>
{
    RpcTestServer Server() =>
        new(new PodmonProcess.RuntimeDir(), RuncFixture.Runc, "--runtime-root", fx.StateDir, "--cgroup-manager", "cgroupfs");

    string Temp(string name) => Path.Combine(fx.Root, $"{name}-{Guid.NewGuid():N}");

    static JsonElement Ok(ConmonRpc.Result r)
    {
        Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}: {r.Stdout}{r.Stderr}");
        return r.Json;
    }

    static string Error(ConmonRpc.Result r)
    {
        Assert.True(r.ExitCode == 1, $"exit {r.ExitCode}: {r.Stdout}{r.Stderr}");
        return r.Json.GetProperty("error").GetString()!;
    }

    static string StartFdSocket(RpcTestServer s) => Ok(ConmonRpc.Run(s.Socket, "start-fd-socket")).GetProperty("path").GetString()!;

    static int FdCount(int pid) => Directory.GetFiles($"/proc/{pid}/fd").Length;

    static string WaitFile(string path)
    {
        Assert.True(PodmonProcess.WaitUntil(() => File.Exists(path), 20_000), $"{path} never appeared");
        return File.ReadAllText(path);
    }

    ConmonRpc.Result Create(RpcTestServer s, string id, string[] args, params string[] extra) =>
        ConmonRpc.Run(s.Socket, ["create", "--id", id, "--bundle", fx.Bundle(id, args), .. extra]);

    /// <summary>n fresh fds on /dev/null, owned by the returned handles.</summary>
    static SafeFileHandle[] DevNulls(int n) =>
        Enumerable.Range(0, n).Select(_ => File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Read)).ToArray();

    static int[] Raw(SafeFileHandle[] handles) => handles.Select(h => (int)h.DangerousGetHandle()).ToArray();

    [Fact]
    public void StartFdSocketIsIdempotentOwnerOnlySeqpacketWithSlotsGlobalFromOne()
    {
        using var s = Server();
        string path = StartFdSocket(s);
        Assert.Equal(Path.Combine(s.Dir.Path, "conmon-fd.sock"), path);
        Assert.Equal(path, StartFdSocket(s));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        using (var stream = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            Assert.Equal(SocketError.ProtocolType, Assert.Throws<SocketException>(() => stream.Connect(new UnixDomainSocketEndPoint(path))).SocketErrorCode);
        using var a = new FdSocketClient(path);
        using var b = new FdSocketClient(path);
        using var p1 = new TestPipe();
        using var p2 = new TestPipe();
        Assert.Equal(new ulong[] { 1UL, 2UL }, a.Send(7, p1.Write.Value, p2.Write.Value));
        Assert.Equal(new ulong[] { 3UL }, b.Send(7, p1.Write.Value));
        Assert.Equal(new ulong[] { 4UL }, a.Send(8, p2.Write.Value));
        Assert.Equal(4, p1.CopiesIn(s.Pid) + p2.CopiesIn(s.Pid));
    }

    [Fact]
    public void ContainerWritesToThePipesItWasHandedAsFd3And4InListOrder()
    {
        using var s = Server();
        using var c = new FdSocketClient(StartFdSocket(s));
        using var first = new TestPipe();
        using var second = new TestPipe();
        ulong[] slots = c.Send(1, first.Write.Value, second.Write.Value);
        first.Write.Dispose();
        second.Write.Dispose();
        string id = fx.NewId("fd"), exit = Temp("exit");
        // additionalFds lists the second pipe first: it becomes fd 3.
        Ok(Create(s, id, ["sh", "-c", "echo to fd 3 >&3; echo to fd 4 >&4"], "--exit-path", exit,
            "--additional-fd", slots[1].ToString(), "--additional-fd", slots[0].ToString(),
            "--command-arg", "--preserve-fds", "--command-arg", "2"));
        Assert.Equal(0, first.CopiesIn(s.Pid) + second.CopiesIn(s.Pid)); // handed to the runtime, no copy kept
        fx.Start(id);
        Assert.Equal("0", WaitFile(exit));
        // EOF: the container, the runtime and the server have all closed their copies.
        Assert.Equal(("to fd 3\n", true), second.Drain());
        Assert.Equal(("to fd 4\n", true), first.Drain());

        string again = Error(Create(s, fx.NewId(), ["true"], "--additional-fd", slots[0].ToString()));
        Assert.Contains($"no file descriptor in slot {slots[0]}", again); // a slot is taken once
    }

    [Fact]
    public void LeakFdIsHeldUntilTheContainerExitsAndTheAllZeroRequestClosesOnlyUntakenFds()
    {
        using var s = Server();
        using var c = new FdSocketClient(StartFdSocket(s));
        using var leak = new TestPipe();
        using var untaken = new TestPipe();
        ulong[] slots = c.Send(1, leak.Write.Value, untaken.Write.Value);
        leak.Write.Dispose();
        untaken.Write.Dispose();
        string id = fx.NewId("leak"), exit = Temp("exit");
        int pid = Ok(Create(s, id, ["sleep", "1000"], "--exit-path", exit, "--leak-fd", slots[0].ToString()))
            .GetProperty("containerPid").GetInt32();
        fx.Start(id);
        Assert.Equal(1, leak.CopiesIn(s.Pid));
        Assert.Equal(1, untaken.CopiesIn(s.Pid));

        c.CloseRegistered(); // no reply: the next one read answers request 2
        using var later = new TestPipe();
        Assert.Equal(new ulong[] { 3UL }, c.Send(2, later.Write.Value));
        Assert.Equal(("", true), untaken.Drain());
        Assert.Contains($"no file descriptor in slot {slots[1]}", Error(Create(s, fx.NewId(), ["true"], "--additional-fd", slots[1].ToString())));
        Assert.Equal(1, leak.CopiesIn(s.Pid)); // taken by the container: not the connection's any more
        Assert.Equal(("", false), leak.Drain());

        Errno.Check(Libc.kill(pid, Libc.SIGKILL), "kill");
        Assert.Equal("137", WaitFile(exit));
        Assert.True(PodmonProcess.WaitUntil(() => leak.CopiesIn(s.Pid) == 0), "the leak fd outlived its container");
        Assert.Equal(("", true), leak.Drain());
    }

    [Fact]
    public void UnknownOrRepeatedSlotIsAnErrorThatTakesNoOtherSlot()
    {
        using (var bare = Server()) // startFdSocket never called
            Assert.Contains("no file descriptor in slot 1", Error(Create(bare, fx.NewId(), ["true"], "--additional-fd", "1")));

        using var s = Server();
        using var c = new FdSocketClient(StartFdSocket(s));
        using var pipe = new TestPipe();
        ulong slot = Assert.Single(c.Send(1, pipe.Write.Value));
        pipe.Write.Dispose();
        string unknown = Error(Create(s, fx.NewId(), ["true"], "--additional-fd", slot.ToString(), "--leak-fd", "999"));
        Assert.Contains("no file descriptor in slot 999", unknown);
        string twice = Error(Create(s, fx.NewId(), ["true"], "--additional-fd", slot.ToString(), "--leak-fd", slot.ToString()));
        Assert.Contains($"slot {slot} is named twice", twice);
        Assert.Equal(1, pipe.CopiesIn(s.Pid));
        Assert.Equal(("", false), pipe.Drain());
        Assert.True(s.Alive);
    }

    [Fact]
    public void DisconnectClosesEveryUntakenFd()
    {
        using var s = Server();
        string path = StartFdSocket(s);
        int baseline = FdCount(s.Pid);
        using var pipe = new TestPipe();
        SafeFileHandle[] nulls = DevNulls(20);
        try
        {
            var c = new FdSocketClient(path);
            Assert.Equal(20, c.Send(1, Raw(nulls)).Length);
            Assert.Single(c.Send(2, pipe.Write.Value));
            pipe.Write.Dispose();
            Assert.Equal(baseline + 1 + 21, FdCount(s.Pid)); // the connection and its 21 fds
            c.Dispose();
            Assert.True(PodmonProcess.WaitUntil(() => FdCount(s.Pid) == baseline), $"{FdCount(s.Pid)} fds, {baseline} before");
            Assert.Equal(("", true), pipe.Drain());
        }
        finally
        {
            foreach (SafeFileHandle h in nulls) h.Dispose();
        }
    }

    [Fact]
    public void MalformedRequestsGetAnErrorReplyAndLoseNothingElse()
    {
        using var s = Server();
        string path = StartFdSocket(s);
        using var a = new FdSocketClient(path);
        using var b = new FdSocketClient(path);
        using var kept = new TestPipe();
        Assert.Equal(new ulong[] { 1UL }, b.Send(1, kept.Write.Value));
        int baseline = FdCount(s.Pid);

        a.SendRaw([1, 2, 3, 4]);
        Assert.Contains("8 bytes, this one has 4", a.ReceiveError(0));
        a.SendRaw([.. FdSocketClient.Header(5, 0), .. new byte[8]]);
        Assert.Contains("8 bytes, this one has 16", a.ReceiveError(5));
        a.SendRaw([]);
        Assert.Contains("8 bytes, this one has 0", a.ReceiveError(0));

        using var mismatch = new TestPipe();
        a.SendRaw(FdSocketClient.Header(6, 2), mismatch.Write.Value);
        mismatch.Write.Dispose();
        Assert.Contains("received 1 fds, but the request says 2", a.ReceiveError(6));
        Assert.Equal(("", true), mismatch.Drain()); // closed, not leaked

        SafeFileHandle[] nulls = DevNulls(253);
        try
        {
            a.SendRaw(FdSocketClient.Header(7, 254), Raw(nulls));
            Assert.Contains("at most 253 fds per request, the request says 254", a.ReceiveError(7));
            a.SendRaw(FdSocketClient.Header(8, 1), Raw(nulls[..2]));
            Assert.Contains("received 2 fds, but the request says 1", a.ReceiveError(8));
        }
        finally
        {
            foreach (SafeFileHandle h in nulls) h.Dispose();
        }
        Assert.Equal(baseline, FdCount(s.Pid));

        // Both connections go on; nothing was registered by the bad requests.
        using var next = new TestPipe();
        Assert.Equal(new ulong[] { 2UL }, a.Send(9, next.Write.Value));
        Assert.Equal(new ulong[] { 3UL }, b.Send(2, next.Write.Value));
        Assert.Equal(1, kept.CopiesIn(s.Pid));
        Assert.Equal(s.Pid, Ok(ConmonRpc.Run(s.Socket, "version")).GetProperty("processId").GetInt32());
    }

    [Fact]
    public void AClientThatDoesNotReadItsRepliesLosesNone()
    {
        const int Requests = 5000;
        using var s = Server();
        using var c = new FdSocketClient(StartFdSocket(s));
        int sent = 0;
        // Far more replies than the server's send buffer holds: it stops reading until there is room.
        var sender = new Thread(() =>
        {
            for (uint i = 1; i <= Requests; i++)
            {
                c.SendRaw(FdSocketClient.Header(i, 0));
                Volatile.Write(ref sent, (int)i);
            }
        });
        sender.Start();
        int last = -1;
        while (Volatile.Read(ref sent) != last && Volatile.Read(ref sent) < Requests)
        {
            last = Volatile.Read(ref sent);
            Thread.Sleep(200); // until the sender is stuck (both buffers full) or done
        }
        for (uint i = 1; i <= Requests; i++) Assert.Equal((ulong)i << 32, c.Receive().Header);
        Assert.True(sender.Join(10_000));
        Assert.True(s.Alive);
        Assert.Equal(2, s.Threads); // served on the one loop: still main + the runtime's finalizer
    }

    [Fact]
    public void FdsThatDidNotFitTheServersFdLimitAreAnErrorAndNoneLeaks()
    {
        using var s = Server();
        using var c = new FdSocketClient(StartFdSocket(s));
        Assert.Empty(c.Send(1)); // the connection is accepted: its fd counts
        int maxFd = Directory.GetFiles($"/proc/{s.Pid}/fd").Select(f => int.Parse(Path.GetFileName(f))).Max();
        int count = FdCount(s.Pid);
        int room = maxFd + 1 - count + 2; // the free numbers below the limit
        string soft = File.ReadAllLines($"/proc/{s.Pid}/limits").Single(l => l.StartsWith("Max open files"))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[3];
        Assert.Equal(0, Host.Run("/usr/bin/prlimit", $"--pid={s.Pid}", $"--nofile={maxFd + 3}:").Code);
        SafeFileHandle[] nulls = DevNulls(room + 3);
        try
        {
            c.SendRaw(FdSocketClient.Header(2, (uint)nulls.Length), Raw(nulls));
            Assert.Contains($"only {room} of the fds arrived (MSG_CTRUNC", c.ReceiveError(2));
            Assert.Equal(count, FdCount(s.Pid));
            Assert.Equal(0, Host.Run("/usr/bin/prlimit", $"--pid={s.Pid}", $"--nofile={soft}:").Code);
            Assert.Equal(nulls.Length, c.Send(3, Raw(nulls)).Length);
        }
        finally
        {
            foreach (SafeFileHandle h in nulls) h.Dispose();
        }
    }

    [Theory]
    [InlineData(Libc.SIGTERM)]
    [InlineData(Libc.SIGINT)]
    public void ShutdownRemovesTheFdSocket(int signal)
    {
        using var s = Server();
        string path = StartFdSocket(s);
        using var c = new FdSocketClient(path);
        using var pipe = new TestPipe();
        Assert.Single(c.Send(1, pipe.Write.Value));
        pipe.Write.Dispose();
        Errno.Check(Libc.kill(s.Pid, signal), "kill");
        Assert.True(PodmonProcess.WaitUntil(() => !s.Alive, 10_000), "the server did not exit");
        Assert.False(File.Exists(path));
        Assert.False(File.Exists(s.Socket));
        Assert.Equal(("", true), pipe.Drain());
    }
}
