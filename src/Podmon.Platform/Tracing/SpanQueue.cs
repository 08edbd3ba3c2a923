using System.Buffers.Binary;
using Podmon.Tracing.Otlp;

namespace Podmon.Tracing;

/// <summary>
/// Ended spans waiting for the exporter, already encoded (each as its <c>ScopeSpans.spans</c>
/// field), in one ring of bytes: at most <c>capacity</c> spans and <c>maxBytes</c> bytes. When it is
/// full a span is dropped and counted, so a collector that is down or slow costs bounded memory and
/// never blocks the caller. Queued spans are bytes, not objects: a Span dies young however long the
/// collector takes, and the GC, seeing few survivors, keeps its young generation small (with the
/// Span objects queued, 10 000 spans grew the heap by 3 MB). The ring grows by doubling and is let go
/// when it empties above <see cref="KeepBytes"/>. Adding is a lock and a copy; the exporter is woken
/// only when the queue gets its first span (to start the schedule delay) or a full batch.
/// </summary>
internal sealed class SpanQueue(int capacity, int batchSize, Wakeup wakeup, int maxBytes = SpanQueue.DefaultMaxBytes)
{
    public const int DefaultMaxBytes = 1 << 20, KeepBytes = 256 * 1024;
    const int Prefix = 4; // each record: its length, then the encoded span

    readonly object _gate = new();
    byte[] _ring = [];
    int _head, _used, _count;
    long _dropped;
    bool _closed;

    public int Capacity => capacity;

    public int Count
    {
        get { lock (_gate) return _count; }
    }

    /// <summary>Bytes the ring holds (for the tests).</summary>
    public int RingBytes
    {
        get { lock (_gate) return _ring.Length; }
    }

    /// <summary>Spans dropped so far: queue full, closed, or given up by the exporter.</summary>
    public long Dropped
    {
        get { lock (_gate) return _dropped; }
    }

    /// <summary>Queues one encoded span; false (and counted as dropped) when the queue is full or closed.</summary>
    public bool Add(ReadOnlySpan<byte> encodedSpan)
    {
        bool ring;
        int need = Prefix + encodedSpan.Length;
        lock (_gate)
        {
            if (_closed || _count == capacity || _used + need > maxBytes)
            {
                _dropped++;
                return false;
            }
            if (_used + need > _ring.Length) Grow(_used + need);
            Span<byte> length = stackalloc byte[Prefix];
            BinaryPrimitives.WriteInt32LittleEndian(length, encodedSpan.Length);
            Put(length);
            Put(encodedSpan);
            _count++;
            ring = _count == 1 || _count == batchSize;
        }
        if (ring) wakeup.Ring();
        return true;
    }

    /// <summary>Appends up to <paramref name="max"/> spans, oldest first, to <paramref name="into"/>; returns how many.</summary>
    public int Take(ProtoWriter into, int max)
    {
        lock (_gate)
        {
            int n = Math.Min(max, _count);
            Span<byte> length = stackalloc byte[Prefix];
            for (int i = 0; i < n; i++)
            {
                Get(length, null);
                Get(default, into, BinaryPrimitives.ReadInt32LittleEndian(length));
            }
            _count -= n;
            if (_count == 0 && _ring.Length > KeepBytes)
            {
                _ring = [];
                _head = 0;
            }
            return n;
        }
    }

    /// <summary>Drops (and counts) everything queued; returns how many spans that was.</summary>
    public int DropAll()
    {
        lock (_gate)
        {
            int n = _count;
            _dropped += n;
            _count = _used = _head = 0;
            _ring = [];
            return n;
        }
    }

    /// <summary>Lets the ring go if nothing is queued (the next span allocates a small one).</summary>
    public void ReleaseIfEmpty()
    {
        lock (_gate)
            if (_count == 0)
            {
                _ring = [];
                _head = _used = 0;
            }
    }

    public void CountDropped(int n)
    {
        lock (_gate) _dropped += n;
    }

    /// <summary>Refuses further spans (counted as dropped); what is queued stays for a last flush.</summary>
    public void Close()
    {
        lock (_gate) _closed = true;
    }

    void Put(ReadOnlySpan<byte> bytes)
    {
        int tail = (_head + _used) % _ring.Length;
        int first = Math.Min(bytes.Length, _ring.Length - tail);
        bytes[..first].CopyTo(_ring.AsSpan(tail));
        bytes[first..].CopyTo(_ring);
        _used += bytes.Length;
    }

    /// <summary>Takes <paramref name="length"/> bytes off the head into <paramref name="to"/> (its length), or into <paramref name="writer"/>.</summary>
    void Get(Span<byte> to, ProtoWriter? writer, int length = -1)
    {
        if (length < 0) length = to.Length;
        int first = Math.Min(length, _ring.Length - _head);
        if (writer is null)
        {
            _ring.AsSpan(_head, first).CopyTo(to);
            _ring.AsSpan(0, length - first).CopyTo(to[first..]);
        }
        else
        {
            writer.Raw(_ring.AsSpan(_head, first));
            writer.Raw(_ring.AsSpan(0, length - first));
        }
        _head = (_head + length) % _ring.Length;
        _used -= length;
    }

    void Grow(int need)
    {
        int size = Math.Max(16 * 1024, _ring.Length);
        while (size < need) size *= 2;
        byte[] grown = GC.AllocateUninitializedArray<byte>(Math.Min(size, maxBytes));
        int first = Math.Min(_used, _ring.Length - _head);
        _ring.AsSpan(_head, first).CopyTo(grown);
        _ring.AsSpan(0, _used - first).CopyTo(grown.AsSpan(first));
        _ring = grown;
        _head = 0;
    }
}
