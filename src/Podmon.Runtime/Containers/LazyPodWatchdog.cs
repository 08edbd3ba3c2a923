using Podmon.Diagnostics;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Containers;

/// <summary>
/// The pod's one <see cref="PodWatchdog"/>, owned by the host and handed to whatever registers
/// processes with it (the container engine, the pod namespaces). It starts on first use, not at
/// server start: an idle server needs no second process, and starting one would delay the socket.
/// A watchdog that could not be started is said once in the log and not tried again.
/// </summary>
public sealed class LazyPodWatchdog(ChildReaper reaper, string? path, IReadOnlyList<string> argv) : IDisposable
{
    PodWatchdog? _watchdog;
    bool _tried;

    /// <summary>The watchdog if it was started (no side effect).</summary>
    public PodWatchdog? Current => _watchdog;

    /// <summary>The watchdog, started now if this is the first use; null when disabled or it could not start.</summary>
    public PodWatchdog? Start()
    {
        if (_tried || path is null) return _watchdog;
        _tried = true;
        try { _watchdog = PodWatchdog.Start(path, argv, reaper); }
        catch (SyscallException e) { Log.Error($"pod watchdog not started ({e.Message}): containers will not be killed if podmon dies"); }
        return _watchdog;
    }

    /// <summary>Server shutdown: the watchdog's exit is then expected.</summary>
    public void Stopping()
    {
        if (_watchdog is not null) _watchdog.Stopping = true;
    }

    /// <summary>Closes podmon's end: the watchdog then kills what it still holds.</summary>
    public void Dispose() => _watchdog?.Dispose();
}
