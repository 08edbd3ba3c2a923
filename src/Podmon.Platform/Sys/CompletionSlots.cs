namespace Podmon.Sys;

/// <summary>
/// The handlers of an <see cref="IoUring"/>'s operations, by key (user_data = generation &lt;&lt; 32 | slot),
/// like <see cref="Loop.EventLoop"/>'s fds: a slot is reused with a new generation, so a completion
/// that arrives after its owner unregistered (a cancelled read) finds nobody rather than the slot's
/// next owner. Key 0 (slot 0, generation 0) never exists. Loop thread only.
/// </summary>
sealed class CompletionSlots
{
    ICompletionHandler?[] _handlers = new ICompletionHandler?[16];
    uint[] _generations = new uint[16];
    readonly Stack<int> _free = new();
    int _used;

    /// <summary>A key for <paramref name="handler"/>, valid until <see cref="Remove"/>.</summary>
    public ulong Add(ICompletionHandler handler)
    {
        int slot;
        if (_free.Count > 0) slot = _free.Pop();
        else
        {
            if (_used == _handlers.Length)
            {
                Array.Resize(ref _handlers, _used * 2);
                Array.Resize(ref _generations, _used * 2);
            }
            slot = _used++;
        }
        uint gen = ++_generations[slot];
        if (gen == 0) gen = ++_generations[slot];
        _handlers[slot] = handler;
        return (ulong)gen << 32 | (uint)slot;
    }

    /// <summary>The key no longer finds its handler; a stale or unknown key is ignored.</summary>
    public void Remove(ulong key)
    {
        int slot = (int)(uint)key;
        if (slot >= _used || _generations[slot] != (uint)(key >> 32) || _handlers[slot] is null) return;
        _handlers[slot] = null;
        _generations[slot]++;
        _free.Push(slot);
    }

    /// <summary>The handler <paramref name="key"/> was given to, or null if it has gone since.</summary>
    public ICompletionHandler? Find(ulong key)
    {
        int slot = (int)(uint)key;
        return slot < _used && _generations[slot] == (uint)(key >> 32) ? _handlers[slot] : null;
    }
}
