using System.Text;
using Podmon.Cli;
using Podmon.Containers;
using Podmon.Diagnostics;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Server;

/// <summary>
/// The conmon-rs style server: one process, one loop, one socket for the whole pod. Started by
/// <see cref="Program"/> after native/early.c has (maybe) daemonized.
/// </summary>
public sealed class ServerHost : ISignalHandler, IDisposable
{
    readonly ServerOptions _options;
    readonly EventLoop _loop = new();
    readonly ChildReaper _reaper;
    SignalSource? _signals;
    Listener? _listener;
    IConnectionAcceptor? _acceptor;
    ContainerEngine? _containers;
    LoopTimer? _shutdownTimer;

    public ServerHost(ServerOptions options)
    {
        _options = options;
        _reaper = new ChildReaper(_loop);
        IdleCollector = new IdleCollector(_loop);
    }

    public EventLoop Loop => _loop;
    public IdleCollector IdleCollector { get; }
    public ChildReaper Reaper => _reaper;
    public ServerOptions Options => _options;

    /// <summary>The pod's containers (created in <see cref="Start"/>): what the RPC methods call.</summary>
    public ContainerEngine Containers => _containers ?? throw new InvalidOperationException("server not started");

    /// <summary>How long shutdown waits for killed containers to be reaped (exit files written).</summary>
    const int ShutdownGraceMs = 2000;

    /// <summary>Checks and prepares what the flags name, like conmon-rs's Config::validate.</summary>
    public static void Validate(ServerOptions o)
    {
        if (o.Runtime.Trim().Length == 0) throw new UsageException("--runtime flag not set");
        if (o.RuntimeDir.Trim().Length == 0) throw new UsageException("--runtime-dir flag not set");
        if (!File.Exists(o.Runtime)) throw new UsageException($"--runtime '{o.Runtime}' does not exist");
        if (o.RuntimeRoot is { } root && File.Exists(root))
            throw new UsageException($"--runtime-root '{root}' is not a directory");
    }

    /// <summary>Prepares the process and the socket; after this returns, clients can connect.</summary>
    public void Start(Func<ServerHost, IConnectionAcceptor> acceptorFactory)
    {
        Directory.CreateDirectory(_options.RuntimeDir);
        if (_options.RuntimeRoot is { } root) Directory.CreateDirectory(root);
        ConfigureProcess();

        _signals = new SignalSource(_loop, this);
        _containers = new ContainerEngine(_loop, _reaper, new EngineOptions
        {
            RuntimePath = _options.Runtime,
            RuntimeRoot = _options.RuntimeRoot,
            RuntimeDir = _options.RuntimeDir,
            LogLevel = _options.LogLevel,
        });
        _containers.ContainerExited += _ => IdleCollector.NoteActivity();
        _acceptor = acceptorFactory(this);
        string socket = _options.SocketPath;
        if (Libc.unlink(socket) < 0 && Errno.Last != Errno.ENOENT)
            throw new SyscallException("unlink", Errno.Last, socket);
        _listener = new Listener(_loop, socket, _acceptor);
        _acceptor.ConnectionClosed = () => _listener?.DescriptorFreed();
        WritePidfile(_options.PidfilePath, Libc.getpid());
        IdleCollector.NoteActivity(); // start-up touched most of the binary: let it go once quiet
        if (Log.IsEnabled(LogLevel.Info)) Log.Info($"podmon {VersionInfo.Version} listening on {socket} (pid {Libc.getpid()})");
    }

    public void Run() => _loop.Run();

    /// <summary>What every monitor process does first: subreaper (containers become its children), umask 022, oom_score_adj -1000 when allowed.</summary>
    public static void ConfigureProcess()
    {
        Errno.Check(Libc.prctl(Libc.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl(PR_SET_CHILD_SUBREAPER)");
        Libc.umask(0b000_010_010); // 022
        try
        {
            File.WriteAllText("/proc/self/oom_score_adj", "-1000");
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            Log.Debug($"oom_score_adj -1000 not allowed: {e.Message}");
        }
    }

    /// <summary>Temp file + rename: a reader never sees a partial pid.</summary>
    public static void WritePidfile(string path, int pid) =>
        AtomicFile.Write(path, Encoding.ASCII.GetBytes(pid.ToString(System.Globalization.CultureInfo.InvariantCulture)), fsync: false);

    static string SignalName(int signo) => signo switch
    {
        Libc.SIGTERM => "SIGTERM",
        Libc.SIGINT => "SIGINT",
        Libc.SIGQUIT => "SIGQUIT",
        _ => $"signal {signo}",
    };

    public void OnSignal(int signo)
    {
        switch (signo)
        {
            case Libc.SIGCHLD:
                _reaper.ReapOrphans();
                break;
            case Libc.SIGTERM or Libc.SIGINT or Libc.SIGQUIT:
                Log.Info($"received {SignalName(signo)}, shutting down");
                Shutdown();
                break;
            case Libc.SIGHUP:
                Log.Debug("SIGHUP ignored");
                break;
        }
    }

    /// <summary>
    /// SIGKILLs the containers (and every other child podmon started), removes the socket, and
    /// stops the loop once the containers are reaped and their exit files written (at most
    /// <see cref="ShutdownGraceMs"/>).
    /// </summary>
    public void Shutdown()
    {
        _containers?.Shutdown();
        _reaper.SignalAll(Libc.SIGKILL);
        _acceptor?.CloseAll();
        if (_listener is not null)
        {
            _listener.Dispose();
            Libc.unlink(_listener.Path);
            _listener = null;
        }
        if (_containers is not { Count: > 0 })
        {
            _loop.Stop();
            return;
        }
        _containers.ContainerExited += _ =>
        {
            if (_containers.Count == 0) _loop.Stop();
        };
        _shutdownTimer = _loop.Timers.Schedule(_loop.Stop, Libc.MonotonicMs() + ShutdownGraceMs);
    }

    public void Dispose()
    {
        _listener?.Dispose();
        _signals?.Dispose();
        _containers?.Dispose();
        _reaper.Dispose();
        _loop.Dispose();
    }

    /// <summary>Tells the launcher (native/early.c) the outcome; -1 = no launcher (foreground).</summary>
    public static void NotifyLauncher(int readyFd, string message)
    {
        if (readyFd < 0) return;
        try { Libc.WriteAll(readyFd, Encoding.UTF8.GetBytes(message)); }
        catch (SyscallException) { }
        Libc.close(readyFd);
    }
}
