namespace Podmon.Loop;

/// <summary>
/// The idle release of the executable's clean code pages (see native/codepages.c) at the loop's
/// wait: asked for once (<see cref="Request"/>), done by the next wait that may sleep, inside that
/// same syscall so no code runs between the release and the sleep, and reported at the first
/// wake-up after it (<see cref="Woke"/>), when whatever runs maps code again.
/// </summary>
sealed class CodePageRelease
{
    bool _requested, _released;

    /// <summary>Called at the first event after the code was released.</summary>
    public Action? Woke { get; set; }

    public void Request() => _requested = true;

    /// <summary>Whether the wait about to start releases the code (a wait of <paramref name="timeout"/> 0 never sleeps: no).</summary>
    public bool TakeForWait(int timeout)
    {
        if (!_requested || timeout == 0) return false;
        _requested = false;
        _released = true;
        return true;
    }

    /// <summary>The wait brought work: if it had released the code, <see cref="Woke"/> learns it.</summary>
    public void NoteWakeup()
    {
        if (!_released) return;
        _released = false;
        Woke?.Invoke();
    }
}
