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
/// if it has not started it yet); the container is not touched.
/// </summary>
sealed class ExecSyncOperation : IChildExitHandler, IOutputSink, ITimerHandler
{
    const int RuntimeOutputLimit = 64 * 1024;

    readonly ContainerEngine _engine;
    readonly ExecSyncRequest _req;
    readonly Action<ExecSyncResult> _done;
    readonly CaptureBuffer _stdout, _stderr;
    readonly LoopTimer _timer;
    readonly string _pidfile;
    ConsoleSocket? _console;
    CaptureBuffer? _runtimeOutput;
    OutputReader? _out, _err, _captureOut, _captureErr;
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
        var childEnds = new List<OwnedFd>();
        try
        {
            Container? c = _engine.Find(_req.Id);
            if (c is null) throw new ContainerException($"container {_req.Id} not found");
            if (c.State != ContainerState.Running) throw new ContainerException($"container {_req.Id} is not running");
            if (_req.Command.Count == 0) throw new ContainerException("exec: command is empty");
            if (_req.Terminal)
                _console = new ConsoleSocket(_engine.Loop, ConsoleSocket.TempPath(_engine.Options.RuntimeDir, "exec-term"));
            var req = new SpawnRequest
            {
                Path = _engine.Options.RuntimePath,
                Argv = RuntimeArgs.ExecSync(_engine.Options, _req.Id, _pidfile, _console?.ConnectPath, _req.Command, _req.CgroupManager),
                Environment = RuntimeArgs.Environment(_req.EnvVars),
                ParentDeathSignal = Libc.SIGKILL,
            };
            OwnedFd[] o = Libc.Pipe(), e = Libc.Pipe();
            childEnds.Add(o[1]);
            childEnds.Add(e[1]);
            if (_req.Terminal)
            {
                _runtimeOutput = new CaptureBuffer(RuntimeOutputLimit);
                _captureOut = new OutputReader(_engine.Loop, o[0], Pipe.Stdout, _runtimeOutput);
                _captureErr = new OutputReader(_engine.Loop, e[0], Pipe.Stderr, _runtimeOutput);
            }
            else
            {
                _out = new OutputReader(_engine.Loop, o[0], Pipe.Stdout, this);
                _err = new OutputReader(_engine.Loop, e[0], Pipe.Stderr, this);
            }
            req.Fds.AddRange([(0, -1), (1, o[1].Value), (2, e[1].Value)]);
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
            foreach (OwnedFd fd in childEnds) fd.Dispose();
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
            _captureOut?.Drain();
            _captureErr?.Drain();
            if (exitCode != 0)
            {
                _out?.Drain();
                _err?.Drain();
                if (_timedOut)
                {
                    Finish(-1, null);
                    return;
                }
                string text = _runtimeOutput?.Text() ?? (_stderr.Length > 0 ? _stderr.Text() : _stdout.Text());
                Finish(ExecSyncResult.RuntimeFailedExitCode,
                    $"exec in container {_req.Id}: {Path.GetFileName(_engine.Options.RuntimePath)} exited with status {exitCode}" +
                    (text.Length > 0 ? $": {text}" : ""));
                return;
            }
            int pid = _processPid = Pidfile.Read(_pidfile);
            if (_console is not null)
            {
                _console.TryReceive();
                OwnedFd? master = _console.TakeMaster() ?? throw new IOException("the runtime sent no terminal to the console socket");
                _out = new OutputReader(_engine.Loop, master, Pipe.Stdout, this);
                _console.Dispose();
                _console = null;
            }
            _processPidfd = _engine.Reaper.Claim(pid, this);
            _engine.ExecProcessesRunning++;
            if (_processPidfd is not null) _engine.Watchdog?.Register(_processPidfd.Value);
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
        _out?.Drain();
        _err?.Drain();
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
        _out?.Dispose();
        _err?.Dispose();
        _captureOut?.Dispose();
        _captureErr?.Dispose();
        _console?.Dispose();
        _runtimePidfd?.Dispose();
        _processPidfd?.Dispose();
        Pidfile.Clear(_pidfile);
        Release();
        if (started) _engine.ExecFinished();
        _done(new ExecSyncResult
        {
            ExitCode = exitCode,
            Stdout = _stdout.ToArray(),
            Stderr = _stderr.ToArray(),
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
