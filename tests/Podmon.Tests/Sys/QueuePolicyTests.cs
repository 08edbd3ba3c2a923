using Podmon.Sys;

namespace Podmon.Tests.Sys;

/// <summary>The watermark and stall rule of outbound queues (attach clients, RPC answers, stdin), with a test clock.</summary>
public class QueuePolicyTests
{
    long _now = 1000;

    QueuePolicy Attach() => new(highWater: 256, lowWater: 64, maxQueued: 1024, stallMs: 30_000, clock: () => _now);

    [Fact]
    public void BacklogStartsAtTheHighMarkAndEndsBelowTheLowOne()
    {
        QueuePolicy p = Attach();
        Assert.False(p.Queued(255));
        Assert.True(p.Queued(256));
        Assert.True(p.Backlogged);
        Assert.False(p.Queued(300)); // already backlogged: no second transition
        Assert.False(p.Taken(64, progressed: true)); // at the low mark: still backlogged (hysteresis)
        Assert.True(p.Backlogged);
        Assert.True(p.Taken(63, progressed: true));
        Assert.False(p.Backlogged);
        Assert.False(p.Taken(0, progressed: true));
    }

    [Fact]
    public void MoreThanTheMaximumIsRefused()
    {
        QueuePolicy p = Attach();
        Assert.True(p.Admits(1000, 24));
        Assert.False(p.Admits(1000, 25));
        Assert.True(new QueuePolicy(1, 1).Admits(1 << 30, 1 << 29)); // no maximum but the int range
    }

    [Fact]
    public void ABackloggedQueueThatTakesNothingStalls()
    {
        QueuePolicy p = Attach();
        Assert.Equal(0, p.StallDeadline);
        p.Queued(500);
        Assert.Equal(31_000, p.StallDeadline);
        _now = 30_999;
        Assert.False(p.IsStalled);
        p.Taken(400, progressed: true); // it took something: the deadline moves on
        Assert.Equal(60_999, p.StallDeadline);
        p.Taken(400, progressed: false); // offered but nothing taken: it does not
        Assert.Equal(60_999, p.StallDeadline);
        _now = 60_999;
        Assert.True(p.IsStalled);
    }

    [Fact]
    public void ARelievedQueueCannotStallUnlessFinishing()
    {
        QueuePolicy p = Attach();
        p.Queued(300);
        p.Taken(10, progressed: true);
        Assert.Equal(0, p.StallDeadline);
        _now = 1_000_000;
        Assert.False(p.IsStalled);

        QueuePolicy finishing = Attach();
        finishing.Queued(300);
        finishing.Finish(); // its last bytes are owed: relief does not end the deadline
        finishing.Taken(10, progressed: true);
        Assert.Equal(_now + 30_000, finishing.StallDeadline);
        _now += 30_000;
        Assert.True(finishing.IsStalled);
    }

    [Fact]
    public void FinishingArmsTheStallWithoutABacklog()
    {
        QueuePolicy p = Attach();
        p.Queued(10);
        Assert.Equal(0, p.StallDeadline);
        p.Finish();
        Assert.Equal(31_000, p.StallDeadline);
    }

    [Fact]
    public void WithoutAStallTimeNothingEverStalls()
    {
        var p = new QueuePolicy(highWater: 1, lowWater: 1, clock: () => _now);
        Assert.True(p.Queued(1));
        p.Finish();
        _now = long.MaxValue;
        Assert.False(p.IsStalled);
        Assert.True(p.Taken(0, progressed: true));
    }
}
