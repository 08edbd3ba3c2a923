using Podmon.Rpc;
using Podmon.Sys;

namespace Podmon.Tests.Rpc;

/// <summary>The fd socket's slot table: numbering, all-or-nothing takes, closing.</summary>
public class FdSlotsTests
{
    static OwnedFd DevNull() => OwnedFd.Check(Libc.open("/dev/null", Libc.O_RDONLY | Libc.O_CLOEXEC, 0), "open");

    [Fact]
    public void SlotsCountFromOneAndAreNeverReused()
    {
        using var slots = new FdSlots();
        Assert.Equal(1UL, slots.Add(DevNull()));
        Assert.Equal(2UL, slots.Add(DevNull()));
        slots.Close(2);
        Assert.Equal(3UL, slots.Add(DevNull()));
        Assert.Equal(2, slots.Count);
    }

    [Fact]
    public void ATakeWithOneBadSlotTakesNothing()
    {
        using var slots = new FdSlots();
        ulong a = slots.Add(DevNull()), b = slots.Add(DevNull());
        Assert.Equal("no file descriptor in slot 9 (slots come from the socket of startFdSocket and can be taken once)",
            slots.CannotTake([a, 9, b]));
        Assert.Equal($"slot {a} is named twice", slots.CannotTake([a, b, a]));
        Assert.Equal(2, slots.Count);
        Assert.Null(slots.CannotTake([b, a]));
        OwnedFd[] taken = slots.Take([b, a]);
        Assert.Equal(0, slots.Count);
        Assert.All(taken, fd => Assert.False(fd.IsClosed)); // the taker owns them now
        Assert.NotNull(slots.CannotTake([a]));
        foreach (OwnedFd fd in taken) fd.Dispose();
    }

    [Fact]
    public void CloseAndDisposeCloseTheFdsStillThere()
    {
        var slots = new FdSlots();
        OwnedFd first = DevNull(), second = DevNull();
        ulong a = slots.Add(first);
        slots.Add(second);
        slots.Close(a);
        slots.Close(a); // already gone: nothing happens
        Assert.True(first.IsClosed);
        Assert.False(second.IsClosed);
        slots.Dispose();
        Assert.True(second.IsClosed);
    }
}
