using Podmon.Sys;
using Podmon.Tracing;
using Podmon.Tracing.Otlp;

namespace Podmon.Tests.Tracing;

/// <summary>The bounded queue of encoded spans between the callers and the exporter: caps, drop count, order, doorbell.</summary>
public unsafe class SpanQueueTests
{
    /// <summary>A stand-in for an encoded span: <paramref name="length"/> bytes of <paramref name="i"/>.</summary>
    static byte[] Encoded(int i, int length = 3) => Enumerable.Repeat((byte)i, length).ToArray();

    static ulong Rings(Wakeup w)
    {
        ulong v = 0;
        nint n = Libc.read(w.Fd, (byte*)&v, 8);
        return n == 8 ? v : 0;
    }

    static byte[] Take(SpanQueue q, int max, out int count)
    {
        var w = new ProtoWriter(1);
        count = q.Take(w, max);
        return w.Written.ToArray();
    }

    [Fact]
    public void KeepsAtMostItsCapacityAndCountsTheRest()
    {
        var w = new Wakeup();
        var q = new SpanQueue(capacity: 5, batchSize: 2, w);
        int accepted = Enumerable.Range(0, 12).Count(i => q.Add(Encoded(i)));
        Assert.Equal(5, accepted);
        Assert.Equal(5, q.Count);
        Assert.Equal(7, q.Dropped);

        Assert.Equal([0, 0, 0, 1, 1, 1], Take(q, 2, out int n));
        Assert.Equal(2, n);
        Assert.True(q.Add(Encoded(12)));
        Assert.True(q.Add(Encoded(13)));
        Assert.False(q.Add(Encoded(14)));
        Assert.Equal([2, 2, 2, 3, 3, 3, 4, 4, 4, 12, 12, 12, 13, 13, 13], Take(q, 100, out n));
        Assert.Equal(5, n);
        Assert.Equal(8, q.Dropped);
        w.Close();
    }

    [Fact]
    public void KeepsAtMostItsBytesToo()
    {
        var w = new Wakeup();
        var q = new SpanQueue(capacity: 100, batchSize: 10, w, maxBytes: 100);
        Assert.True(q.Add(Encoded(1, 46))); // 4 + 46
        Assert.True(q.Add(Encoded(2, 46)));
        Assert.False(q.Add(Encoded(3, 1)));
        Assert.False(q.Add(Encoded(4, 200))); // bigger than the whole queue
        Assert.Equal(2, q.Dropped);
        Take(q, 1, out _);
        Assert.True(q.Add(Encoded(5, 46)));
        w.Close();
    }

    [Fact]
    public void RecordsWrapAroundTheRingAndTheRingGrowsKeepingTheirOrder()
    {
        var w = new Wakeup();
        var q = new SpanQueue(capacity: 10_000, batchSize: 10_000, w, maxBytes: 1 << 20);
        var expected = new List<byte>();
        var got = new List<byte>();
        var random = new Random(7);
        for (int round = 0; round < 200; round++)
        {
            int adds = random.Next(1, 60);
            for (int i = 0; i < adds; i++)
            {
                byte[] e = Encoded(round * 7 + i, random.Next(0, 700));
                Assert.True(q.Add(e));
                expected.AddRange(e);
            }
            got.AddRange(Take(q, random.Next(1, 60), out _));
        }
        got.AddRange(Take(q, int.MaxValue, out _));
        Assert.Equal(expected, got);
        Assert.Equal(0, q.Count);
        Assert.True(q.RingBytes <= SpanQueue.KeepBytes); // an emptied large ring is let go
        w.Close();
    }

    [Fact]
    public void AnIdleQueueLetsItsRingGo()
    {
        var w = new Wakeup();
        var q = new SpanQueue(capacity: 10, batchSize: 10, w);
        Assert.Equal(0, q.RingBytes); // nothing until the first span
        q.Add(Encoded(1));
        Assert.True(q.RingBytes > 0);
        q.ReleaseIfEmpty();
        Assert.True(q.RingBytes > 0); // not while a span waits
        Assert.Equal([1, 1, 1], Take(q, 10, out _));
        q.ReleaseIfEmpty();
        Assert.Equal(0, q.RingBytes);
        q.Add(Encoded(2));
        Assert.Equal([2, 2, 2], Take(q, 10, out _));
        w.Close();
    }

    [Fact]
    public void RingsForTheFirstSpanAndForAFullBatchOnly()
    {
        var w = new Wakeup();
        var q = new SpanQueue(capacity: 10, batchSize: 4, w);
        Assert.Equal(0UL, Rings(w));
        q.Add(Encoded(0));
        Assert.Equal(1UL, Rings(w));
        q.Add(Encoded(1));
        q.Add(Encoded(2));
        Assert.Equal(0UL, Rings(w));
        q.Add(Encoded(3));
        Assert.Equal(1UL, Rings(w));
        for (int i = 4; i < 12; i++) q.Add(Encoded(i));
        Assert.Equal(0UL, Rings(w)); // full and dropping: no more rings
        w.Close();
    }

    [Fact]
    public void AClosedQueueRefusesButKeepsWhatItHas()
    {
        var w = new Wakeup();
        var q = new SpanQueue(4, 4, w);
        q.Add(Encoded(0));
        q.Close();
        Assert.False(q.Add(Encoded(1)));
        Assert.Equal(1, q.Dropped);
        Assert.Equal(1, q.Count);
        Assert.Equal(1, q.DropAll());
        Assert.Equal(2, q.Dropped);
        Assert.Equal(0, q.Count);
        w.Close();
        q.Add(Encoded(2)); // a ring after the wakeup closed does nothing
    }

    [Fact]
    public void ConcurrentCallersNeverExceedTheCap()
    {
        var w = new Wakeup();
        var q = new SpanQueue(capacity: 1000, batchSize: 100, w);
        Parallel.For(0, 8, t => { for (int i = 0; i < 500; i++) q.Add(Encoded(t, 20)); });
        Assert.Equal(1000, q.Count);
        Assert.Equal(3000, q.Dropped);
        byte[] all = Take(q, int.MaxValue, out int n);
        Assert.Equal(1000, n);
        Assert.Equal(20_000, all.Length);
        for (int i = 0; i < all.Length; i += 20) Assert.All(all[i..(i + 20)], b => Assert.Equal(all[i], b)); // no torn record
        w.Close();
    }
}
