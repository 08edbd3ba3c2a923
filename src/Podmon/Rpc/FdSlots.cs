using Podmon.Sys;

namespace Podmon.Rpc;

/// <summary>
/// The fds received over the fd socket, by slot number (global to the server, from 1, never
/// reused), until createContainer takes them or the connection that sent them lets them go. A
/// take is all or nothing, so a request naming one bad slot loses none of the others.
/// </summary>
public sealed class FdSlots : IDisposable
{
    readonly Dictionary<ulong, OwnedFd> _fds = [];
    ulong _last;

    public int Count => _fds.Count;

    public bool Contains(ulong slot) => _fds.ContainsKey(slot);

    public ulong Add(OwnedFd fd)
    {
        ulong slot = ++_last;
        _fds.Add(slot, fd);
        return slot;
    }

    /// <summary>Closes the fd in <paramref name="slot"/> if it is still there (not taken).</summary>
    public void Close(ulong slot)
    {
        if (_fds.Remove(slot, out OwnedFd? fd)) fd.Dispose();
    }

    /// <summary>Why <paramref name="slots"/> cannot all be taken (the first unknown or repeated slot), or null.</summary>
    public string? CannotTake(ReadOnlySpan<ulong> slots)
    {
        for (int i = 0; i < slots.Length; i++)
        {
            if (!_fds.ContainsKey(slots[i]))
                return $"no file descriptor in slot {slots[i]} (slots come from the socket of startFdSocket and can be taken once)";
            if (slots[..i].Contains(slots[i])) return $"slot {slots[i]} is named twice";
        }
        return null;
    }

    /// <summary>Takes the fds of slots that <see cref="CannotTake"/> accepted; the caller owns them.</summary>
    public OwnedFd[] Take(ReadOnlySpan<ulong> slots)
    {
        if (slots.IsEmpty) return [];
        var taken = new OwnedFd[slots.Length];
        for (int i = 0; i < slots.Length; i++)
            if (!_fds.Remove(slots[i], out taken[i]!)) throw new InvalidOperationException($"slot {slots[i]} was not checked");
        return taken;
    }

    public void Dispose()
    {
        foreach (OwnedFd fd in _fds.Values) fd.Dispose();
        _fds.Clear();
    }
}
