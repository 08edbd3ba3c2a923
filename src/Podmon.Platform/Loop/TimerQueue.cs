namespace Podmon.Loop;

/// <summary>A timer owned by whoever schedules it; reusable, so rescheduling allocates nothing.</summary>
public sealed class LoopTimer(ITimerHandler handler)
{
    internal long DueMs;
    internal int HeapIndex = -1;
    public ITimerHandler Handler { get; } = handler;
    public bool IsScheduled => HeapIndex >= 0;
}

/// <summary>A one-off action as a timer handler (for rare timers; hot paths keep their own reusable timer).</summary>
public sealed class ActionTimer(Action action) : ITimerHandler
{
    public void OnTimer(LoopTimer timer) => action();
}

/// <summary>A binary min-heap of timers by due time (monotonic milliseconds).</summary>
public sealed class TimerQueue
{
    LoopTimer[] _heap = new LoopTimer[8];
    int _count;

    public int Count => _count;

    public void Schedule(LoopTimer timer, long dueMs)
    {
        if (timer.IsScheduled) Cancel(timer);
        if (_count == _heap.Length) Array.Resize(ref _heap, _count * 2);
        timer.DueMs = dueMs;
        timer.HeapIndex = _count;
        _heap[_count++] = timer;
        Up(timer.HeapIndex);
    }

    /// <summary>Runs <paramref name="action"/> at <paramref name="dueMs"/>; the timer returned can be cancelled.</summary>
    public LoopTimer Schedule(Action action, long dueMs)
    {
        var timer = new LoopTimer(new ActionTimer(action));
        Schedule(timer, dueMs);
        return timer;
    }

    public void Cancel(LoopTimer timer)
    {
        int i = timer.HeapIndex;
        if (i < 0) return;
        timer.HeapIndex = -1;
        LoopTimer last = _heap[--_count];
        _heap[_count] = null!;
        if (i == _count) return;
        _heap[i] = last;
        last.HeapIndex = i;
        Up(i);
        Down(last.HeapIndex);
    }

    /// <summary>epoll_wait timeout: until the next timer, capped by <paramref name="maxWaitMs"/> (-1 = none).</summary>
    public int WaitTimeout(long nowMs, int maxWaitMs)
    {
        if (_count == 0) return maxWaitMs;
        long until = Math.Max(0, _heap[0].DueMs - nowMs);
        if (maxWaitMs >= 0) until = Math.Min(until, maxWaitMs);
        return (int)Math.Min(until, int.MaxValue);
    }

    public void FireDue(long nowMs)
    {
        while (_count > 0 && _heap[0].DueMs <= nowMs)
        {
            LoopTimer t = _heap[0];
            Cancel(t);
            t.Handler.OnTimer(t);
        }
    }

    void Up(int i)
    {
        while (i > 0)
        {
            int parent = (i - 1) / 2;
            if (_heap[parent].DueMs <= _heap[i].DueMs) break;
            Swap(i, parent);
            i = parent;
        }
    }

    void Down(int i)
    {
        while (true)
        {
            int l = 2 * i + 1, r = l + 1, min = i;
            if (l < _count && _heap[l].DueMs < _heap[min].DueMs) min = l;
            if (r < _count && _heap[r].DueMs < _heap[min].DueMs) min = r;
            if (min == i) return;
            Swap(i, min);
            i = min;
        }
    }

    void Swap(int a, int b)
    {
        (_heap[a], _heap[b]) = (_heap[b], _heap[a]);
        _heap[a].HeapIndex = a;
        _heap[b].HeapIndex = b;
    }
}
