using Podmon.Cli;
using Podmon.Containers;
using Podmon.Diagnostics;
using Podmon.Hosting;
using Podmon.Pod;
using Podmon.Rpc;
using Podmon.Streaming;
using Podmon.Sys;
using Podmon.Tracing;

namespace Podmon.Server;

/// <summary>
/// The conmon-rs style server: one process, one loop, one socket for the whole pod. Started by
/// <see cref="Program"/> after native/early.c has (maybe) daemonized. It composes the
/// <see cref="MonitorHost"/>, the container engine and the RPC socket, and decides what the
/// signals mean (SIGTERM, SIGINT, SIGQUIT: shut down).
/// </summary>
public sealed class ServerHost : IDisposable
{
    /// <summary>How long shutdown waits for killed containers to be reaped (exit files written).</summary>
    const int ShutdownGraceMs = 2000;


    readonly ServerOptions _options;
    readonly MonitorHost _host = new();
    Listener? _listener;
    RpcServer? _rpc;
    FdSocket? _fdSocket;
    ConmonService? _service;
    ContainerEngine? _containers;
    PodNamespaces? _pod;
    StreamingServer? _streaming;
    Tracer? _tracer;

    public ServerHost(ServerOptions options) => _options = options;

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
    public void Start()
    {
        Directory.CreateDirectory(_options.RuntimeDir);
        if (_options.RuntimeRoot is { } root) Directory.CreateDirectory(root);
        MonitorHost.PrepareProcess();
        _host.HandleSignals(OnSignal);
        if (_options.EnableTracing) _tracer = StartTracing(_options);
        _containers = _host.CreateEngine(new EngineOptions
        {
            RuntimePath = _options.Runtime,
            RuntimeRoot = _options.RuntimeRoot,
            RuntimeDir = _options.RuntimeDir,
            LogLevel = _options.LogLevel,
        }, _tracer);
        _fdSocket = new FdSocket(_host.Loop, _options.FdSocketPath);
        _pod = new PodNamespaces(_host.Reaper, _host.Watchdog, _tracer);
        _streaming = new StreamingServer(_host.Loop, _containers); // listens from the first serve* call
        _service = new ConmonService(_containers, _options.CgroupManager, _fdSocket, _pod, _streaming, _tracer);
        _rpc = new RpcServer(_host.Loop, _service, _host.Idle);
        string socket = _options.SocketPath;
        if (Libc.unlink(socket) < 0 && Errno.Last != Errno.ENOENT)
            throw new SyscallException("unlink", Errno.Last, socket);
        _listener = new Listener(_host.Loop, socket, _rpc);
        _rpc.ConnectionClosed = () => _listener?.DescriptorFreed();
        MonitorHost.WritePidfile(_options.PidfilePath); // last: it says "serving"
        _host.Idle.NoteActivity(); // start-up touched most of the binary: let it go once quiet
        if (Log.IsEnabled(LogLevel.Info)) Log.Info($"podmon {VersionInfo.Version} listening on {socket} (pid {Libc.getpid()})");
    }

    public void Run() => _host.Run();

    /// <summary>The trace exporter's settings from the flags, then PODMON_/OTEL_ variables (TracingSettings.Resolve).</summary>
    static Tracer StartTracing(ServerOptions o)
    {
        TracingSettings settings;
        try { settings = TracingSettings.Resolve(o.TracingEndpoint, Environment.GetEnvironmentVariable, "podmon", VersionInfo.Version); }
        catch (TracingConfigException e) { throw new UsageException(e.Message); }
        Tracer tracer = Tracer.Start(settings);
        if (Log.IsEnabled(LogLevel.Info)) Log.Info($"tracing: exporting spans to {settings}");
        return tracer;
    }

    static string SignalName(int signo) => signo switch
    {
        Libc.SIGTERM => "SIGTERM",
        Libc.SIGINT => "SIGINT",
        Libc.SIGQUIT => "SIGQUIT",
        _ => $"signal {signo}",
    };

    void OnSignal(int signo)
    {
        if (signo is Libc.SIGTERM or Libc.SIGINT or Libc.SIGQUIT)
        {
            Log.Info($"received {SignalName(signo)}, shutting down");
            Shutdown();
        }
        else Log.Debug($"signal {signo} ignored");
    }

    /// <summary>
    /// SIGKILLs the containers (and every other child podmon started), unpins the pod's namespaces
    /// (the pause goes too), removes the sockets, and
    /// stops the loop once the containers are reaped and their exit files written (at most
    /// <see cref="ShutdownGraceMs"/>).
    /// </summary>
    public void Shutdown()
    {
        _containers?.Shutdown();
        _pod?.Shutdown();
        _host.Reaper.SignalAll(Libc.SIGKILL);
        if (_listener is not null) // first: connections closed below must not let it accept new ones
        {
            _listener.Dispose();
            Libc.unlink(_listener.Path);
            _listener = null;
        }
        _rpc?.CloseAll();
        _fdSocket?.Dispose(); // its fds closed, conmon-fd.sock removed
        _streaming?.Dispose();
        // Also a conmon-fd.sock left by an earlier server (SIGKILLed), so the Go client's restart finds neither.
        Libc.unlink(_options.FdSocketPath);
        if (_containers is not { Count: > 0 })
        {
            _host.Loop.Stop();
            return;
        }
        _containers.ContainerExited += _ =>
        {
            if (_containers.Count == 0) _host.Loop.Stop();
        };
        _host.Loop.Timers.Schedule(_host.Loop.Stop, Libc.MonotonicMs() + ShutdownGraceMs);
    }

    public void Dispose()
    {
        _listener?.Dispose();
        _fdSocket?.Dispose();
        _streaming?.Dispose();
        _host.Dispose(); // the watchdog, the engine, the loop
        _tracer?.Dispose(); // last: flushes the spans of the shutdown (at most its ShutdownTimeout)
    }
}
