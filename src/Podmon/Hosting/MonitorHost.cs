using System.Text;
using Podmon.Containers;
using Podmon.Diagnostics;
using Podmon.Loop;
using Podmon.Sys;
using Podmon.Tracing;

namespace Podmon.Hosting;

/// <summary>
/// What every monitor process is made of, whatever its front end (the conmon-rs server, a
/// conmon-mode monitor): the one event loop, the child reaper (podmon is a subreaper, so
/// containers become its children), the idle collector, the signals (SIGCHLD reaps; every other
/// signal goes to the front end), the process setup, its pidfile and the launcher pipe of
/// native/early.c. Front ends decide what the signals and the containers mean; the host only runs them.
/// </summary>
public sealed class MonitorHost : ISignalHandler, IDisposable
{
    SignalSource? _signals;
    Action<int>? _onSignal;

    public EventLoop Loop { get; } = IoBackend.CreateLoop(Environment.GetEnvironmentVariable(IoBackend.Variable));
    public ChildReaper Reaper { get; }
    public IdleCollector Idle { get; }
    /// <summary>The pod watchdog (started on first use), once <see cref="CreateEngine"/> has made it.</summary>
    public LazyPodWatchdog Watchdog { get; private set; } = null!;
    ContainerEngine? _engine;

    public MonitorHost()
    {
        Reaper = new ChildReaper(Loop);
        Idle = new IdleCollector(Loop);
    }

    /// <summary>What every monitor process does first: child subreaper, umask 022, oom_score_adj -1000 when allowed.</summary>
    public static void PrepareProcess()
    {
        Errno.Check(Libc.prctl(Libc.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl(PR_SET_CHILD_SUBREAPER)");
        Libc.umask(0b000_010_010); // 022
        try
        {
            File.WriteAllText("/proc/self/oom_score_adj", "-1000");
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            Log.Debug($"oom_score_adj -1000 not allowed: {ErrorText.Describe(e)}");
        }
    }

    /// <summary>This process's pid in <paramref name="path"/> (temp file + rename: a reader never sees a partial pid).</summary>
    public static void WritePidfile(string path) =>
        AtomicFile.Write(path, Encoding.ASCII.GetBytes(Libc.getpid().ToString(System.Globalization.CultureInfo.InvariantCulture)), fsync: false);

    /// <summary>Tells the launcher (native/early.c) the outcome and closes the pipe; -1 = no launcher (foreground).</summary>
    public static void NotifyLauncher(int readyFd, string message)
    {
        if (readyFd < 0) return;
        try { Libc.WriteAll(readyFd, Encoding.UTF8.GetBytes(message)); }
        catch (SyscallException) { }
        Libc.close(readyFd);
    }

    /// <summary>Reads the blocked signals on the loop: SIGCHLD reaps orphans, every other one goes to <paramref name="onSignal"/>.</summary>
    public void HandleSignals(Action<int> onSignal)
    {
        _onSignal = onSignal;
        _signals ??= new SignalSource(Loop, this);
    }

    void ISignalHandler.OnSignal(int signo)
    {
        if (signo == Libc.SIGCHLD) Reaper.ReapOrphans();
        else _onSignal?.Invoke(signo);
    }

    /// <summary>
    /// The container engine on this host's loop, with the pod watchdog the options name; a
    /// container's exit counts as activity for the idle collector. The host disposes both.
    /// </summary>
    public ContainerEngine CreateEngine(EngineOptions options, Tracer? tracer = null)
    {
        Watchdog = new LazyPodWatchdog(Reaper, options.WatchdogPath, options.WatchdogArgs);
        var engine = _engine = new ContainerEngine(Loop, Reaper, options, Watchdog, tracer);
        engine.ContainerExited += _ => Idle.NoteActivity();
        return engine;
    }

    public void Run() => Loop.Run();

    public void Dispose()
    {
        Watchdog?.Dispose(); // first: it then kills whatever is left, as podmon's death would
        _engine?.Dispose();
        _signals?.Dispose();
        Reaper.Dispose();
        Loop.Dispose();
    }
}
