using Podmon.Loop;
using Podmon.Sys;
using Podmon.Tracing;

namespace Podmon.Containers;

/// <summary>
/// execSyncContainer: a <see cref="DetachedExec"/> without stdin whose output (pipes, or the pty of
/// --tty) is collected up to the limit; the result is complete when the process exited and its
/// output was drained. A timeout SIGKILLs the process (or the runtime if it has not started it
/// yet); the container is not touched.
/// </summary>
sealed class ExecSyncOperation : IDetachedExecOwner, IOutputSink, ITimerHandler
{
    readonly ContainerEngine _engine;
    readonly ExecSyncRequest _req;
    readonly Action<ExecSyncResult> _done;
    readonly CaptureBuffer _stdout, _stderr;
    readonly LoopTimer _timer;
    DetachedExec? _exec;
    Span? _span;
    bool _timedOut, _finished;

    public ExecSyncOperation(ContainerEngine engine, ExecSyncRequest req, Action<ExecSyncResult> done)
    {
        _engine = engine;
        _req = req;
        _done = done;
        _stdout = new CaptureBuffer(engine.Options.ExecOutputLimit);
        _stderr = new CaptureBuffer(engine.Options.ExecOutputLimit);
        _timer = new LoopTimer(this);
    }

    public void OnOutput(Pipe pipe, ReadOnlySpan<byte> data) => (pipe == Pipe.Stdout ? _stdout : _stderr).Append(data);

    public void Start()
    {
        if (_engine.Tracer is { } tracer)
        {
            _span = tracer.StartSpan("runtime_exec", _req.Trace);
            _span.SetAttribute("container_id", _req.Id);
            _span.SetAttribute("runtime", _engine.Options.RuntimePath);
        }
        try
        {
            _exec = new DetachedExec(_engine, _req.Id, _req.Command, _req.CgroupManager, _req.Terminal, stdin: false, this, this,
                "exec_sync", "exec-term", startWatchdog: true);
            _exec.Start(RuntimeArgs.Environment(_req.EnvVars));
            if (_req.TimeoutSec > 0)
                _engine.Loop.Timers.Schedule(_timer, Libc.MonotonicMs() + (long)Math.Min(_req.TimeoutSec, int.MaxValue / 1000) * 1000);
        }
        catch (Exception e)
        {
            Finish(ExecSyncResult.RuntimeFailedExitCode, e is ContainerException ? e.Message : $"exec in container {_req.Id}: {ErrorText.Describe(e)}");
        }
    }

    public void OnRuntimeFailed(int exitCode)
    {
        if (_timedOut)
        {
            Finish(-1, null);
            return;
        }
        ContainerIo io = _exec!.Io;
        string text = io.Mode == IoMode.Terminal ? io.RuntimeOutput.Text() : _stderr.Length > 0 ? _stderr.Text() : _stdout.Text();
        Finish(ExecSyncResult.RuntimeFailedExitCode, _exec.RuntimeFailure(exitCode, text));
    }

    public void OnProcessStarted() { }

    public void OnProcessExited(int exitCode) => Finish(exitCode, null);

    public void OnFailed(string error) => Finish(ExecSyncResult.RuntimeFailedExitCode, error);

    public void OnTimer(LoopTimer timer)
    {
        _timedOut = true;
        _exec!.Kill(orTheRuntime: true);
    }

    void Finish(int exitCode, string? error)
    {
        if (_finished) return;
        _finished = true;
        if (_span is not null)
        {
            _span.SetAttribute("exit_code", exitCode);
            _span.SetAttribute("timed_out", _timedOut);
            if (error is not null) _span.SetError(error);
            _span.End();
        }
        _engine.Loop.Timers.Cancel(_timer);
        _exec?.Close();
        _done(new ExecSyncResult(_stdout, _stderr)
        {
            ExitCode = exitCode,
            TimedOut = _timedOut,
            Truncated = _stdout.Truncated || _stderr.Truncated,
            Error = error,
        });
    }
}
