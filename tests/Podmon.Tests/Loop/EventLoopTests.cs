using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Tests.Loop;

public unsafe class EventLoopTests
{
    sealed class EventFdReader(int fd) : IEventHandler
    {
        public int Calls;
        public ulong Total;

        public void OnEvents(uint events)
        {
            ulong v;
            if (Libc.read(fd, (byte*)&v, 8) == 8) Total += v;
            Calls++;
        }
    }

    sealed class Recorder : ITimerHandler, ISignalHandler, IChildExitHandler
    {
        public readonly List<string> Events = [];
        public void OnTimer(LoopTimer timer) => Events.Add($"timer {timer.GetHashCode()}");
        public void OnSignal(int signo) => Events.Add($"signal {signo}");
        public void OnChildExit(int pid, int exitCode) => Events.Add($"exit {pid} {exitCode}");
    }

    static void Signal(OwnedFd efd, ulong value = 1) => Libc.write(efd.Value, (byte*)&value, 8);

    [Fact]
    public void DispatchesReadinessToTheRegisteredHandler()
    {
        using var loop = TestLoop.Create();
        using var efd = OwnedFd.Check(Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK), "eventfd");
        var h = new EventFdReader(efd.Value);
        var reg = loop.Add(efd.Value, Libc.EPOLLIN, h);
        Assert.Equal(0, loop.RunOnce(0));
        Signal(efd, 5);
        Assert.Equal(1, loop.RunOnce(1000));
        Assert.Equal(5UL, h.Total);
        loop.Remove(reg);
        Signal(efd);
        Assert.Equal(0, loop.RunOnce(0));
        Assert.Equal(1, h.Calls);
    }

    [Fact]
    public void RemovedRegistrationNeverReachesTheSlotsNextOwner()
    {
        using var loop = TestLoop.Create();
        using var a = OwnedFd.Check(Libc.eventfd(0, Libc.EFD_NONBLOCK), "eventfd");
        var ha = new EventFdReader(a.Value);
        var reg = loop.Add(a.Value, Libc.EPOLLIN, ha);
        loop.Remove(reg);
        loop.Remove(reg); // twice: ignored
        using var b = OwnedFd.Check(Libc.eventfd(0, Libc.EFD_NONBLOCK), "eventfd");
        var hb = new EventFdReader(b.Value);
        var regB = loop.Add(b.Value, Libc.EPOLLIN, hb);
        Assert.Equal((uint)reg.Key, (uint)regB.Key); // same slot, new generation
        loop.Remove(reg); // stale: must not remove b
        Signal(b);
        loop.RunOnce(1000);
        Assert.Equal(1, hb.Calls);
        Assert.Equal(0, ha.Calls);
    }

    [Fact]
    public void TimersFireInDueOrderAndCanBeCancelled()
    {
        using var loop = TestLoop.Create();
        var rec = new Recorder();
        var t1 = new LoopTimer(rec);
        var t2 = new LoopTimer(rec);
        var t3 = new LoopTimer(rec);
        long now = Libc.MonotonicMs();
        loop.Timers.Schedule(t1, now + 30);
        loop.Timers.Schedule(t2, now + 10);
        loop.Timers.Schedule(t3, now + 20);
        loop.Timers.Cancel(t3);
        while (loop.Timers.Count > 0) loop.RunOnce(-1);
        Assert.Equal([$"timer {t2.GetHashCode()}", $"timer {t1.GetHashCode()}"], rec.Events);
        Assert.True(Libc.MonotonicMs() - now >= 30);
    }

    [Fact]
    public void SignalsArriveThroughTheSignalfd()
    {
        using var loop = TestLoop.Create();
        var rec = new Recorder();
        using var signals = new SignalSource(loop, rec);
        // Thread-directed, so only this (blocking) thread can take it: the test host lives on.
        Errno.Check(Libc.tgkill(Libc.getpid(), Libc.gettid(), Libc.SIGHUP), "tgkill");
        loop.RunOnce(1000);
        Assert.Equal(["signal 1"], rec.Events);
    }

    [Fact]
    public void ChildExitArrivesThroughThePidfd()
    {
        using var loop = TestLoop.Create();
        using var reaper = new ChildReaper(loop);
        var rec = new Recorder();
        var exits = new[] { ("exit 3", 0), ("kill -9 $$", 0) };
        var a = Spawner.Spawn(new SpawnRequest { Path = "/bin/sh", Argv = ["sh", "-c", "exit 3"] });
        var b = Spawner.Spawn(new SpawnRequest { Path = "/bin/sh", Argv = ["sh", "-c", "kill -9 $$"] });
        reaper.Watch(a.Pid, a.Pidfd!, rec);
        reaper.Watch(b.Pid, b.Pidfd!, rec);
        long deadline = Libc.MonotonicMs() + 5000;
        while (reaper.WatchedCount > 0 && Libc.MonotonicMs() < deadline) loop.RunOnce(100);
        Assert.Equal(0, reaper.WatchedCount);
        Assert.Contains($"exit {a.Pid} 3", rec.Events);
        Assert.Contains($"exit {b.Pid} 137", rec.Events);
        Assert.Equal(0, loop.RegisteredCount);
    }

    [Fact]
    public void SteadyStateIterationsAllocateNothing()
    {
        using var loop = TestLoop.Create();
        using var efd = OwnedFd.Check(Libc.eventfd(0, Libc.EFD_NONBLOCK), "eventfd");
        var h = new EventFdReader(efd.Value);
        loop.Add(efd.Value, Libc.EPOLLIN, h);
        var timer = new LoopTimer(new Recorder());
        void Iteration()
        {
            Signal(efd);
            loop.Timers.Schedule(timer, Libc.MonotonicMs() + 60_000);
            loop.RunOnce(0);
            loop.Timers.Cancel(timer);
        }
        for (int i = 0; i < 100; i++) Iteration();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++) Iteration();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Equal(10_100, h.Calls);
    }
}
