using System.Globalization;
using Podmon.Logging;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Containers;

/// <summary>
/// execSyncContainer: `runtime exec -d --pid-file=P ID cmd…`. With -d the runtime exits once the
/// process runs; the process is then re-parented to podmon (subreaper) and watched by pidfd. Its
/// output (pipes, or the pty of --tty) is collected up to the limit; the result is complete when
/// the process exited and its output was drained. A timeout SIGKILLs the process (or the runtime
/// if it has not started it yet); the container is not touched. Its stdio is a <see cref="ContainerIo"/>
/// without stdin whose sink is this operation.
/// </summary>
sealed class ExecSyncOperation : IChildExitHandler, IOutputSink, ITimerHandler
{
    readonly ContainerEngine _engine;
    readonly ExecSyncRequest _req;
    readonly Action<ExecSyncResult> _done;
    readonly CaptureBuffer _stdout, _stderr;
    readonly LoopTimer _timer;
    readonly string _pidfile;
    ContainerIo? _io;
    OwnedFd? _runtimePidfd, _processPidfd;
    int _runtimePid, _processPid;
    bool _holding, _timedOut, _finished;

    public ExecSyncOperation(ContainerEngine engine, ExecSyncRequest req, Action<ExecSyncResult> done)
    {
        _engine = engine;
        _req = req;
        _done = done;
        _stdout = new CaptureBuffer(engine.Options.ExecOutputLimit);
        _stderr = new CaptureBuffer(engine.Options.ExecOutputLimit);
        _timer = new LoopTimer(this);
        _pidfile = Path.Combine(engine.Options.RuntimeDir, $"exec_sync_{Random.Shared.Next():x8}.pid");
    }

    public void OnOutput(Pipe pipe, ReadOnlySpan<byte> data) => (pipe == Pipe.Stdout ? _stdout : _stderr).Append(data);

    public void Start()
    {
        try
        {
            Container? c = _engine.Find(_req.Id);
            if (c is null) throw new ContainerException($"container {_req.Id} not found");
            if (c.State != ContainerState.Running) throw new ContainerException($"container {_req.Id} is not running");
            if (_req.Command.Count == 0) throw new ContainerException("exec: command is empty");
            _io = new ContainerIo(_engine.Loop, _req.Terminal ? IoMode.Terminal : IoMode.Pipes, stdin: false, this,
                _engine.Options.RuntimeDir, "exec-term");
            var req = new SpawnRequest
            {
                Path = _engine.Options.RuntimePath,
                Argv = RuntimeArgs.ExecSync(_engine.Options, _req.Id, _pidfile, _io.ConsoleSocketPath, _req.Command, _req.CgroupManager),
                Environment = RuntimeArgs.Environment(_req.EnvVars),
                ParentDeathSignal = Libc.SIGKILL,
            };
            req.Fds.AddRange(_io.ChildFds);
            _engine.Reaper.HoldOrphans();
            _holding = true;
            SpawnedProcess p = Spawner.Spawn(req);
            if (p.Pidfd is null) throw new ContainerException("pidfd_open is not available: podmon needs Linux 5.3 or later");
            _runtimePid = p.Pid;
            _engine.ExecStarted();
            _runtimePidfd = new OwnedFd(Errno.Check(Libc.fcntl(p.Pidfd.Value, Libc.F_DUPFD_CLOEXEC, 0), "fcntl"));
            _engine.Reaper.Watch(p.Pid, p.Pidfd, this);
            if (_req.TimeoutSec > 0)
                _engine.Loop.Timers.Schedule(_timer, Libc.MonotonicMs() + (long)Math.Min(_req.TimeoutSec, int.MaxValue / 1000) * 1000);
        }
        catch (Exception e)
        {
            Finish(ExecSyncResult.RuntimeFailedExitCode, e is ContainerException ? e.Message : $"exec in container {_req.Id}: {ErrorText.Describe(e)}");
        }
        finally
        {
            _io?.CloseChildEnds();
        }
    }

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
            ContainerIo io = _io!;
            io.DrainRuntimeMessages();
            if (exitCode != 0)
            {
                io.Drain();
                if (_timedOut)
                {
                    Finish(-1, null);
                    return;
                }
                string text = io.Mode == IoMode.Terminal ? io.RuntimeOutput.Text() : _stderr.Length > 0 ? _stderr.Text() : _stdout.Text();
                Finish(ExecSyncResult.RuntimeFailedExitCode,
                    $"exec in container {_req.Id}: {Path.GetFileName(_engine.Options.RuntimePath)} exited with status {exitCode}" +
                    (text.Length > 0 ? $": {text}" : ""));
                return;
            }
            int pid = _processPid = Pidfile.Read(_pidfile);
            if (io.Mode == IoMode.Terminal)
            {
                if (!io.ConnectTerminal(stdin: false, onlcr: false)) throw new IOException("the runtime sent no terminal to the console socket");
                io.EndRuntime();
            }
            _processPidfd = _engine.Reaper.Claim(pid, this);
            _engine.ExecProcessesRunning++;
            if (_processPidfd is not null) _engine.StartWatchdog()?.Register(_processPidfd.Value);
            Release();
            if (_timedOut) Kill();
        }
        catch (Exception e)
        {
            Finish(ExecSyncResult.RuntimeFailedExitCode, $"exec in container {_req.Id}: {ErrorText.Describe(e)}");
        }
    }

    void ProcessExited(int exitCode)
    {
        _engine.ExecProcessesRunning--;
        _io?.Drain();
        Finish(exitCode, null);
    }

    public void OnTimer(LoopTimer timer)
    {
        _timedOut = true;
        Kill();
    }

    void Kill()
    {
        if (_processPidfd is not null) Native.PidfdSendSignal(_processPidfd.Value, Libc.SIGKILL, 0);
        else if (_runtimePidfd is { IsClosed: false }) Native.PidfdSendSignal(_runtimePidfd.Value, Libc.SIGKILL, 0);
    }

    void Finish(int exitCode, string? error)
    {
        if (_finished) return;
        _finished = true;
        bool started = _runtimePid != 0;
        _engine.Loop.Timers.Cancel(_timer);
        _io?.Dispose();
        _runtimePidfd?.Dispose();
        _processPidfd?.Dispose();
        Pidfile.Clear(_pidfile);
        Release();
        if (started) _engine.ExecFinished();
        _done(new ExecSyncResult(_stdout, _stderr)
        {
            ExitCode = exitCode,
            TimedOut = _timedOut,
            Truncated = _stdout.Truncated || _stderr.Truncated,
            Error = error,
        });
    }

    void Release()
    {
        if (!_holding) return;
        _holding = false;
        _engine.Reaper.ReleaseOrphans();
    }
}
