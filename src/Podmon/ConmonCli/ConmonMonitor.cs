using Podmon.Containers;
using Podmon.Diagnostics;
using Podmon.Loop;
using Podmon.Hosting;
using Podmon.Sys;

namespace Podmon.ConmonCli;

/// <summary>
/// conmon mode: the C conmon's command-line contract (podman, CRI-O) as a front end over the
/// <see cref="ContainerEngine"/>. One process monitors one container or one exec session, from
/// the runtime's start to the exit command. native/early.c has already waited for the start byte
/// and forked: this is the daemon, and the launcher (the process podman started) exits once
/// <see cref="Run"/> reports "ready". The request is built by <see cref="ConmonRequest"/>, the
/// engine is spoken to through <see cref="SyncPipe"/> and <see cref="ControlFifos"/>.
/// </summary>
public sealed class ConmonMonitor
{
    /// <summary>Like conmon, which writes attach output blocking: the monitor exits once attach clients took the last output, 5 s at most.</summary>
    const int AttachFinishMs = 5000;

    readonly ConmonOptions _o;
    readonly SyncPipe _pipes;
    readonly MonitorHost _host = new();
    readonly EventLoop _loop;
    ContainerEngine _engine = null!;
    Container? _container, _exited;
    CreateOperation? _create;
    ControlFifos? _fifos;
    int _exitCode = 1;

    ConmonMonitor(ConmonOptions o, SyncPipe pipes)
    {
        _o = o;
        _pipes = pipes;
        _loop = _host.Loop;
    }

    /// <summary>Runs conmon mode; returns the monitor's exit status (the container's exit code).</summary>
    public static int Run(IReadOnlyList<string> args, int readyFd)
    {
        SyncPipe pipes = SyncPipe.FromEnvironment();
        ConmonMonitor m;
        var o = new ConmonOptions();
        try
        {
            try { ConmonCommandLine.Parse(args, o); }
            finally { pipes.UseDialect(o.ApiVersion, o.Exec); } // what was read before an error picks the key
            o.Validate();
            Log.Configure(o.Syslog ? LogDriverKind.Systemd : LogDriverKind.None, o.LogLevel);
            // conmon, built without a feature, says so in its log and goes on; so does conmon mode.
            foreach (string name in o.Ignored) Log.Warn($"{name}: not supported by podmon, ignored");
            m = new ConmonMonitor(o, pipes);
            MonitorHost.PrepareProcess();
            if (o.ConmonPidfile is { } pf) MonitorHost.WritePidfile(pf);
        }
        catch (Exception e)
        {
            string msg = ErrorText.Describe(e);
            pipes.Report(-1, msg);
            if (readyFd >= 0) MonitorHost.NotifyLauncher(readyFd, $"error 1 conmon: {msg}\n");
            else Log.Stderr($"conmon: {msg}");
            return 1;
        }
        if (readyFd >= 0) MonitorHost.NotifyLauncher(readyFd, "ready\n");
        else if (o.Sync && !o.Logs.Exists(l => l.Driver == "passthrough")) DisconnectStdio(); // native/early.c kept them for the errors above
        return m.Serve();
    }

    int Serve()
    {
        _host.HandleSignals(OnSignal);
        _engine = _host.CreateEngine(new EngineOptions
        {
            RuntimePath = _o.Runtime!,
            RuntimeDir = Environment.GetEnvironmentVariable("TMPDIR") is { Length: > 0 } t ? t : "/tmp",
            LogLevel = _o.LogLevel,
            // conmon does not kill the container when it dies; neither does conmon mode (no watchdog).
            WatchdogPath = null,
        });
        _engine.ContainerExited += OnExited;
        try
        {
            CreateRequest req = ConmonRequest.Build(_o, _pipes, _o.Exec ? AnnounceExecAttach : null);
            if (!req.PassthroughStdio && _o.Bundle is { } bundle) _fifos = new ControlFifos(_loop, bundle, Resize, ReopenLogs);
            _create = _engine.Create(req, OnCreated);
            if (req.PassthroughStdio) DisconnectStdio(); // the runtime has them now
        }
        catch (Exception e)
        {
            _pipes.Report(-1, ErrorText.Describe(e));
            return 1;
        }
        _host.Run();
        _fifos?.Dispose();
        _host.Dispose(); // the engine too
        return _exitCode;
    }

    /// <summary>passthrough: after the runtime got our stdio, let go of the caller's streams (conmon does the same).</summary>
    static void DisconnectStdio()
    {
        using var nul = OwnedFd.Check(Libc.open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC, 0), "open", "/dev/null");
        for (int fd = 0; fd <= 2; fd++) Libc.dup3(nul.Value, fd, 0);
    }

    /// <summary>exec: the attach socket exists; tell podman, then wait until it has connected (second start byte).</summary>
    void AnnounceExecAttach()
    {
        _pipes.AttachReady();
        if (_o.ExecAttach) _pipes.WaitForStart();
    }

    void OnCreated(CreateResult r)
    {
        if (!r.Succeeded)
        {
            _pipes.Report(-1, r.Error);
            _exitCode = 1;
            _loop.Stop();
            return;
        }
        _container = _engine.Find(_o.Cid!);
        // conmon: a legacy (no --api-version) exec monitor sends one value only, the exit code.
        if (_o.ApiVersion >= 1 || !_o.Exec) _pipes.Report(r.ContainerPid);
        _host.Idle.NoteActivity();
        if (_o.TimeoutSec > 0)
            _loop.Timers.Schedule(() => _container?.KillForTimeout(), Libc.MonotonicMs() + _o.TimeoutSec * 1000L);
    }

    /// <summary>Exit file written: (exec) the code on the sync pipe, then [--exit-delay] the exit command, waited for; then exit.</summary>
    void OnExited(Container c)
    {
        _exited = c;
        _exitCode = c.ExitCode ?? 1;
        if (_o.Exec) _pipes.Report(_exitCode, c.TimedOut ? "command timed out" : null);
        _fifos?.Dispose();
        _fifos = null;
        if (_o.ExitDelaySec > 0)
            _loop.Timers.Schedule(RunExitCommand, Libc.MonotonicMs() + _o.ExitDelaySec * 1000L);
        else RunExitCommand();
    }

    void RunExitCommand()
    {
        var argv = new List<string>();
        if (_o.ExitCommand is { } cmd)
        {
            argv.Add(cmd);
            argv.AddRange(_o.ExitCommandArgs);
        }
        CleanupCommand.Run(_o.Cid!, argv, _host.Reaper, _ => StopWhenAttachDone());
    }

    void StopWhenAttachDone()
    {
        _loop.Timers.Schedule(_loop.Stop, Libc.MonotonicMs() + AttachFinishMs);
        _exited!.Io.Attach.WhenClientsGone(_loop.Stop);
    }

    void ReopenLogs()
    {
        try { _engine.ReopenLogs(_o.Cid!); }
        catch (ContainerException e) { Log.Warn(e.Message); }
    }

    void Resize(int height, int width)
    {
        if (_container is not { HasTerminal: true, State: ContainerState.Running }) return;
        try { _engine.SetWindowSize(_o.Cid!, (ushort)width, (ushort)height); }
        catch (ContainerException e) { Log.Warn(e.Message); }
    }

    void OnSignal(int signo)
    {
        if (signo is Libc.SIGTERM or Libc.SIGINT or Libc.SIGQUIT) Forward(signo);
        else Log.Debug($"signal {signo} ignored");
    }

    /// <summary>conmon forwards SIGTERM/SIGINT/SIGQUIT to the container, or to the runtime while it creates it; the monitor itself stays until the container has exited.</summary>
    void Forward(int signo)
    {
        if (_container is { State: ContainerState.Running }) _container.Kill(signo);
        else if (_create is { RuntimePid: > 0 and var pid }) Libc.kill(pid, signo);
        else Log.Debug($"signal {signo}: no container or runtime to forward it to");
    }
}
