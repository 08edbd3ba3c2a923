namespace Podmon.Containers;

/// <summary>
/// Backpressure on a container's output: its readers stop while at least one consumer (an attach
/// client) is backlogged, so the output waits in the pipe and then the container's writes wait,
/// as with conmon. A count of holders, so no one scans the consumers.
/// </summary>
public sealed class OutputGate
{
    readonly List<OutputReader> _readers = new(2);
    int _holders;

    public bool IsHeld => _holders > 0;

    /// <summary>A reader joins (a pty's arrives after create) in the gate's current state.</summary>
    public void Add(OutputReader reader)
    {
        _readers.Add(reader);
        if (IsHeld) reader.SetPaused(true);
    }

    /// <summary>One more consumer is backlogged.</summary>
    public void Hold()
    {
        if (_holders++ == 0) SetPaused(true);
    }

    /// <summary>A backlogged consumer caught up or left.</summary>
    public void Release()
    {
        if (_holders == 0) throw new InvalidOperationException("output gate released more often than held");
        if (--_holders == 0) SetPaused(false);
    }

    void SetPaused(bool paused)
    {
        foreach (OutputReader r in _readers) r.SetPaused(paused);
    }
}
