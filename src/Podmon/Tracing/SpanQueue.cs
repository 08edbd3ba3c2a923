namespace Podmon.Tracing;

/// <summary>
/// Ended spans waiting for the exporter: a ring of at most <c>capacity</c> spans. When it is full a
/// span is dropped and counted, so a collector that is down or slow costs bounded memory and never
/// blocks the caller. Adding is a lock and a store; the exporter is woken only when the queue gets
/// its first span (to start the schedule delay) or a full batch.
/// </summary>
internal sealed class SpanQueue(int capacity, int batchSize, Wakeup wakeup)
{
    readonly Span[] _ring = new Span[capacity];
    int _head, _count;
    long _dropped;
    bool _closed;

    public int Capacity => _ring.Length;

    public int Count
    {
        get { lock (_ring) return _count; }
    }

    /// <summary>Spans dropped so far: queue full, closed, or given up by the exporter.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>False (and counted as dropped) when the queue is full or closed.</summary>
    public bool Add(Span span)
    {
        bool ring;
        lock (_ring)
        {
            if (_closed || _count == _ring.Length)
            {
                _dropped++;
                return false;
            }
            _ring[(_head + _count) % _ring.Length] = span;
            _count++;
            ring = _count == 1 || _count == batchSize;
        }
        if (ring) wakeup.Ring();
        return true;
    }

    /// <summary>Moves up to <paramref name="max"/> spans, oldest first, into <paramref name="into"/>.</summary>
    public int Take(List<Span> into, int max)
    {
        lock (_ring)
        {
            int n = Math.Min(max, _count);
            for (int i = 0; i < n; i++)
            {
                into.Add(_ring[_head]);
                _ring[_head] = null!;
                _head = (_head + 1) % _ring.Length;
            }
            _count -= n;
            return n;
        }
    }

    public void CountDropped(int n)
    {
        lock (_ring) _dropped += n;
    }

    /// <summary>Refuses further spans (counted as dropped); what is queued stays for a last flush.</summary>
    public void Close()
    {
        lock (_ring) _closed = true;
    }
}
