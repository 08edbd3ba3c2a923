using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Containers;

/// <summary>What a <see cref="DetachedExec"/> tells its owner; each is called on the loop, at most one end per exec.</summary>
interface IDetachedExecOwner
{
    /// <summary>The runtime exited with <paramref name="exitCode"/> != 0 (the process never ran); its output is drained. An end.</summary>
    void OnRuntimeFailed(int exitCode);

    /// <summary>The runtime started the process and (terminal) its pty is connected; it is not watched yet, and a throw kills it.</summary>
    void OnProcessStarted();

    /// <summary>The process exited (conmon-style code) and its output is drained. An end.</summary>
    void OnProcessExited(int exitCode);

    /// <summary>The runtime succeeded but the process could not be taken over (pidfile, terminal, reaper): it is killed. An end.</summary>
    void OnFailed(string error);
}

/// <summary>
/// One process started with `runtime exec -d [--console-socket S --tty] --pid-file P ID cmd…`, the
/// part exec-sync and the streaming exec share. The runtime is watched by pidfd with orphans held
/// (so the process, re-parented to podmon as subreaper, cannot be reaped before it is claimed);
/// when it exits its messages are drained and either it failed, or the pidfile names the process,
/// which is claimed from the reaper, registered with the pod watchdog and watched until it exits.
/// Its stdio is a <see cref="ContainerIo"/> made here, whose output goes to the owner's sink.
/// <see cref="Close"/> releases everything; the owner calls it once it has its end.
/// </summary>
sealed class DetachedExec : IChildExitHandler
{
    readonly ContainerEngine _engine;
    readonly IDetachedExecOwner _owner;
    readonly string _containerId;
    readonly IReadOnlyList<string> _command;
    readonly CgroupManager _cgroupManager;
    readonly bool _stdin, _startWatchdog;
    readonly string _pidfile;
    OwnedFd? _runtimePidfd, _processPidfd;
    bool _processExited;
    int _runtimePid, _processPid;
    bool _holding, _counted, _killRequested;

    /// <summary>Checks the container runs and makes the IO; throws <see cref="ContainerException"/> or <see cref="SyscallException"/>.</summary>
    /// <param name="startWatchdog">Start the pod watchdog for this process if none runs yet (else only an already running one watches it).</param>
    public DetachedExec(ContainerEngine engine, string containerId, IReadOnlyList<string> command, CgroupManager cgroupManager,
        bool terminal, bool stdin, IOutputSink sink, IDetachedExecOwner owner, string pidfilePrefix, string consolePrefix, bool startWatchdog)
    {
        Container? c = engine.Find(containerId);
        if (c is null) throw new ContainerException($"container {containerId} not found");
        if (c.State != ContainerState.Running) throw new ContainerException($"container {containerId} is not running");
        if (command.Count == 0) throw new ContainerException("exec: command is empty");
        _engine = engine;
        _owner = owner;
        _containerId = containerId;
        _command = command;
        _cgroupManager = cgroupManager;
        _stdin = stdin;
        _startWatchdog = startWatchdog;
        _pidfile = Path.Combine(engine.Options.RuntimeDir, $"{pidfilePrefix}_{Random.Shared.Next():x8}.pid");
        Io = new ContainerIo(engine.Loop, terminal ? IoMode.Terminal : IoMode.Pipes, stdin, sink, engine.Options.RuntimeDir, consolePrefix);
    }

    public ContainerIo Io { get; }

    /// <summary>Spawns the runtime; throws if it cannot (the owner then calls <see cref="Close"/>).</summary>
    public void Start(IReadOnlyList<string>? environment)
    {
        try
        {
            var spawn = new SpawnRequest
            {
                Path = _engine.Options.RuntimePath,
                Argv = RuntimeArgs.ExecSync(_engine.Options, _containerId, _pidfile, Io.ConsoleSocketPath, _command, _cgroupManager),
                Environment = environment,
                ParentDeathSignal = Libc.SIGKILL,
            };
            spawn.Fds.AddRange(Io.ChildFds);
            _engine.Reaper.HoldOrphans();
            _holding = true;
            SpawnedProcess p = Spawner.Spawn(spawn);
            if (p.Pidfd is null) throw new ContainerException("pidfd_open is not available: podmon needs Linux 5.3 or later");
            _runtimePid = p.Pid;
            _engine.ExecStarted();
            _counted = true;
            _runtimePidfd = new OwnedFd(Errno.Check(Libc.fcntl(p.Pidfd.Value, Libc.F_DUPFD_CLOEXEC, 0), "fcntl"));
            _engine.Reaper.Watch(p.Pid, p.Pidfd, this);
        }
        finally
        {
            Io.CloseChildEnds();
        }
    }

    /// <summary>
    /// SIGKILLs the process and its process group (<see cref="ProcessGroup"/>), or does so once the
    /// runtime has started it. With <paramref name="orTheRuntime"/>
    /// a runtime still starting it is killed instead (the exec then ends as a runtime failure);
    /// without, the kill waits for the pidfile (killing the runtime half-way could leave the process
    /// running unwatched).
    /// </summary>
    public void Kill(bool orTheRuntime)
    {
        _killRequested = true;
        if (_processPidfd is { IsClosed: false })
        {
            if (!_processExited) ProcessGroup.Kill(_processPid); // once reaped, the pid may be another's
            Native.PidfdSendSignal(_processPidfd.Value, Libc.SIGKILL, 0);
        }
        else if (orTheRuntime && _runtimePidfd is { IsClosed: false }) Native.PidfdSendSignal(_runtimePidfd.Value, Libc.SIGKILL, 0);
    }

    /// <summary>The error for a runtime that exited with <paramref name="exitCode"/>, saying <paramref name="text"/>.</summary>
    public string RuntimeFailure(int exitCode, string text) =>
        $"exec in container {_containerId}: {Path.GetFileName(_engine.Options.RuntimePath)} exited with status {exitCode}" +
        (text.Length > 0 ? $": {text}" : "");

    public void OnChildExit(int pid, int exitCode)
    {
        if (pid == _runtimePid && _processPid == 0) RuntimeExited(exitCode);
        else ProcessExited(exitCode);
    }

    void RuntimeExited(int exitCode)
    {
        try
        {
            _runtimePidfd?.Dispose();
            Io.DrainRuntimeMessages();
            if (exitCode != 0)
            {
                Io.Drain();
                _owner.OnRuntimeFailed(exitCode);
                return;
            }
            int pid = _processPid = Pidfile.Read(_pidfile);
            if (Io.Mode == IoMode.Terminal)
            {
                if (!Io.ConnectTerminal(_stdin, onlcr: false)) throw new IOException("the runtime sent no terminal to the console socket");
                Io.EndRuntime();
            }
            _owner.OnProcessStarted();
            _processPidfd = _engine.Reaper.Claim(pid, this);
            _engine.ExecProcessesRunning++;
            if (_processPidfd is not null) (_startWatchdog ? _engine.Watchdog.Start() : _engine.Watchdog.Current)?.Register(_processPidfd.Value);
            ReleaseOrphans();
            if (_killRequested) Kill(orTheRuntime: false);
        }
        catch (Exception e)
        {
            if (_processPid != 0 && _processPidfd is null) Libc.kill(_processPid, Libc.SIGKILL);
            _owner.OnFailed($"exec in container {_containerId}: {ErrorText.Describe(e)}");
        }
    }

    void ProcessExited(int exitCode)
    {
        _processExited = true;
        _engine.ExecProcessesRunning--;
        Io.Drain();
        _owner.OnProcessExited(exitCode);
    }

    /// <summary>Releases the IO, the pidfds, the pidfile and the hold on orphans, and ends this exec's count in flight.</summary>
    public void Close()
    {
        Io.Dispose();
        _runtimePidfd?.Dispose();
        _processPidfd?.Dispose();
        Pidfile.Clear(_pidfile);
        ReleaseOrphans();
        if (!_counted) return;
        _counted = false;
        _engine.ExecFinished();
    }

    void ReleaseOrphans()
    {
        if (!_holding) return;
        _holding = false;
        _engine.Reaper.ReleaseOrphans();
    }
}
