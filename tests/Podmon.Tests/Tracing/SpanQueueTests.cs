using Podmon.Sys;
using Podmon.Tracing;

namespace Podmon.Tests.Tracing;

/// <summary>The bounded queue between the callers and the exporter: cap, drop count, doorbell.</summary>
public unsafe class SpanQueueTests
{
    static Span NewSpan(int i) => new(null, default, 0, $"s{i}", SpanKind.Internal, i);

    static ulong Rings(Wakeup w)
    {
        ulong v = 0;
        nint n = Libc.read(w.Fd, (byte*)&v, 8);
        return n == 8 ? v : 0;
    }

    [Fact]
    public void KeepsAtMostItsCapacityAndCountsTheRest()
    {
        var w = new Wakeup();
        var q = new SpanQueue(capacity: 5, batchSize: 2, w);
        int accepted = Enumerable.Range(0, 12).Count(i => q.Add(NewSpan(i)));
        Assert.Equal(5, accepted);
        Assert.Equal(5, q.Count);
        Assert.Equal(7, q.Dropped);

        var taken = new List<Span>();
        Assert.Equal(2, q.Take(taken, 2));
        Assert.Equal(["s0", "s1"], taken.Select(s => s.Name));
        Assert.True(q.Add(NewSpan(12))); // room again, and the ring wraps
        Assert.True(q.Add(NewSpan(13)));
        Assert.False(q.Add(NewSpan(14)));
        taken.Clear();
        Assert.Equal(5, q.Take(taken, 100));
        Assert.Equal(["s2", "s3", "s4", "s12", "s13"], taken.Select(s => s.Name));
        Assert.Equal(8, q.Dropped);
        w.Close();
    }

    [Fact]
    public void RingsForTheFirstSpanAndForAFullBatchOnly()
    {
        var w = new Wakeup();
        var q = new SpanQueue(capacity: 10, batchSize: 4, w);
        Assert.Equal(0UL, Rings(w));
        q.Add(NewSpan(0));
        Assert.Equal(1UL, Rings(w));
        q.Add(NewSpan(1));
        q.Add(NewSpan(2));
        Assert.Equal(0UL, Rings(w));
        q.Add(NewSpan(3));
        Assert.Equal(1UL, Rings(w));
        for (int i = 4; i < 12; i++) q.Add(NewSpan(i));
        Assert.Equal(0UL, Rings(w)); // full and dropping: no more rings
        w.Close();
    }

    [Fact]
    public void AClosedQueueRefusesButKeepsWhatItHas()
    {
        var w = new Wakeup();
        var q = new SpanQueue(4, 4, w);
        q.Add(NewSpan(0));
        q.Close();
        Assert.False(q.Add(NewSpan(1)));
        Assert.Equal(1, q.Dropped);
        Assert.Equal(1, q.Count);
        w.Close();
        q.Add(NewSpan(2)); // a ring after the wakeup closed does nothing
    }

    [Fact]
    public void ConcurrentCallersNeverExceedTheCap()
    {
        var w = new Wakeup();
        var q = new SpanQueue(capacity: 1000, batchSize: 100, w);
        Parallel.For(0, 8, t => { for (int i = 0; i < 500; i++) q.Add(NewSpan(i)); });
        Assert.Equal(1000, q.Count);
        Assert.Equal(3000, q.Dropped);
        w.Close();
    }
}
