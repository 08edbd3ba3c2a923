using Podmon.Containers;
using Podmon.Logging;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Streaming;

/// <summary>
/// The process of a streaming exec: `runtime exec -d [--console-socket S --tty] --pid-file P ID
/// cmd…`, then the process itself, watched by pidfd once the runtime has exited (podmon is its
/// subreaper), as exec-sync does. All of its IO is set up here (pipes, or the pty the runtime
/// sends; stdin; resize) so it can move onto the container core's IO as one piece. Output goes to
/// the session as it is read; the end (exit code, or why it never ran) once output is drained.
/// </summary>
sealed class ExecProcess : IChildExitHandler, IOutputSink
{
    const int RuntimeOutputLimit = 64 * 1024;

    readonly ContainerEngine _engine;
    readonly StreamRequest _req;
    readonly ExecSession _session;
    readonly string _pidfile;
    ConsoleSocket? _console;
    CaptureBuffer? _runtimeOutput;
    OutputReader? _out, _err, _captureOut, _captureErr;
    StdinWriter? _stdin;
    OwnedFd? _runtimePidfd, _processPidfd;
    int _runtimePid, _processPid;
    ushort _width, _height;
    bool _holding, _finished, _killed, _outputPaused, _closeStdin;

    public ExecProcess(ContainerEngine engine, StreamRequest req, ExecSession session)
    {
        _engine = engine;
        _req = req;
        _session = session;
        _pidfile = Path.Combine(engine.Options.RuntimeDir, $"exec_stream_{Random.Shared.Next():x8}.pid");
    }

    /// <summary>The terminal or stdin pipe exists: input can be written.</summary>
    public bool StdinReady => _stdin is not null;

    /// <summary>Spawns the runtime; throws <see cref="ContainerException"/> or <see cref="SyscallException"/> if it cannot.</summary>
    public void Start()
    {
        Container c = _engine.Find(_req.ContainerId) ?? throw new ContainerException($"container {_req.ContainerId} not found");
        if (c.State != ContainerState.Running) throw new ContainerException($"container {_req.ContainerId} is not running");
        var childEnds = new List<OwnedFd>(3);
        try
        {
            if (_req.Tty)
                _console = new ConsoleSocket(_engine.Loop, ConsoleSocket.TempPath(_engine.Options.RuntimeDir, "exec-stream-term"));
            var spawn = new SpawnRequest
            {
                Path = _engine.Options.RuntimePath,
                Argv = RuntimeArgs.ExecSync(_engine.Options, _req.ContainerId, _pidfile, _console?.ConnectPath, _req.Command, _req.CgroupManager),
                ParentDeathSignal = Libc.SIGKILL,
            };
            OwnedFd[] o = Libc.Pipe(), e = Libc.Pipe();
            childEnds.Add(o[1]);
            childEnds.Add(e[1]);
            if (_req.Tty)
            {
                // Until the runtime has exited, its pipes carry only its own messages.
                _runtimeOutput = new CaptureBuffer(RuntimeOutputLimit);
                _captureOut = new OutputReader(_engine.Loop, o[0], Pipe.Stdout, _runtimeOutput);
                _captureErr = new OutputReader(_engine.Loop, e[0], Pipe.Stderr, _runtimeOutput);
                spawn.Fds.Add((0, -1));
            }
            else
            {
                _out = new OutputReader(_engine.Loop, o[0], Pipe.Stdout, this);
                _err = new OutputReader(_engine.Loop, e[0], Pipe.Stderr, this);
                if (_req.Stdin)
                {
                    OwnedFd[] i = Libc.Pipe();
                    childEnds.Add(i[0]);
                    SetStdin(new StdinWriter(_engine.Loop, i[1], closable: true));
                    spawn.Fds.Add((0, i[0].Value));
                }
                else spawn.Fds.Add((0, -1));
            }
            spawn.Fds.AddRange([(1, o[1].Value), (2, e[1].Value)]);
            _engine.Reaper.HoldOrphans();
            _holding = true;
            SpawnedProcess p = Spawner.Spawn(spawn);
            if (p.Pidfd is null) throw new ContainerException("pidfd_open is not available: podmon needs Linux 5.3 or later");
            _runtimePid = p.Pid;
            _engine.ExecStarted();
            _runtimePidfd = new OwnedFd(Errno.Check(Libc.fcntl(p.Pidfd.Value, Libc.F_DUPFD_CLOEXEC, 0), "fcntl"));
            _engine.Reaper.Watch(p.Pid, p.Pidfd, this);
        }
        catch
        {
            Close();
            throw;
        }
        finally
        {
            foreach (OwnedFd fd in childEnds) fd.Dispose();
        }
    }

    void SetStdin(StdinWriter stdin)
    {
        _stdin = stdin;
        stdin.Drained = _session.StdinDrained;
    }

    public void OnOutput(Pipe pipe, ReadOnlySpan<byte> data) => _session.Output(pipe, data);

    /// <summary>Writes client input; false when some of it waits (the caller pauses until <see cref="ExecSession.StdinDrained"/>).</summary>
    public bool WriteStdin(ReadOnlySpan<byte> data)
    {
        if (_stdin is null) return true;
        _stdin.Write(data);
        return !_stdin.Pending;
    }

    /// <summary>The client closed its stdin: EOF for a pipe once the rest is written; a terminal stays (closing it would hang up).</summary>
    public void CloseStdin()
    {
        _closeStdin = true;
        _stdin?.CloseWhenDrained();
    }

    public void Resize(ushort width, ushort height)
    {
        _width = width;
        _height = height;
        if (_req.Tty && _out is { IsOpen: true }) Libc.SetWindowSize(_out.Fd, width, height);
    }

    public void SetOutputPaused(bool paused)
    {
        _outputPaused = paused;
        _out?.SetPaused(paused);
        _err?.SetPaused(paused);
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
                string text = _runtimeOutput?.Text().Trim() ?? "";
                Finish(0, $"exec in container {_req.ContainerId}: {Path.GetFileName(_engine.Options.RuntimePath)} exited with status {exitCode}" +
                          (text.Length > 0 ? $": {text}" : ""));
                return;
            }
            int pid = _processPid = Pidfile.Read(_pidfile);
            if (_console is not null)
            {
                _console.TryReceive();
                OwnedFd master = _console.TakeMaster() ?? throw new IOException("the runtime sent no terminal to the console socket");
                _console.Dispose();
                _console = null;
                var input = new OwnedFd(Errno.Check(Libc.fcntl(master.Value, Libc.F_DUPFD_CLOEXEC, 0), "fcntl"));
                _out = new OutputReader(_engine.Loop, master, Pipe.Stdout, this);
                if (_outputPaused) _out.SetPaused(true);
                if (_width != 0 || _height != 0) Libc.SetWindowSize(_out.Fd, _width, _height);
                SetStdin(new StdinWriter(_engine.Loop, input, closable: false));
                if (_closeStdin) _stdin!.CloseWhenDrained();
                _session.StdinDrained(); // input that waited for the terminal may go now
            }
            _processPidfd = _engine.Reaper.Claim(pid, this);
            _engine.ExecProcessesRunning++;
            if (_processPidfd is not null) _engine.Watchdog?.Register(_processPidfd.Value);
            Release();
            if (_killed) Kill();
        }
        catch (Exception e)
        {
            if (_processPid != 0 && _processPidfd is null) Libc.kill(_processPid, Libc.SIGKILL);
            Finish(0, $"exec in container {_req.ContainerId}: {ErrorText.Describe(e)}");
        }
    }

    void ProcessExited(int exitCode)
    {
        _engine.ExecProcessesRunning--;
        _out?.Drain();
        _err?.Drain();
        Finish(exitCode, null);
    }

    /// <summary>
    /// The client left: SIGKILL the process. While the runtime is still starting it, the kill waits
    /// for the pidfile (killing the runtime half-way could leave the process running unwatched).
    /// </summary>
    public void Kill()
    {
        _killed = true;
        if (_processPidfd is not null) Native.PidfdSendSignal(_processPidfd.Value, Libc.SIGKILL, 0);
    }

    void Finish(int exitCode, string? error)
    {
        if (_finished) return;
        _finished = true;
        bool started = _runtimePid != 0;
        Close();
        if (started) _engine.ExecFinished();
        _session.Exited(exitCode, error);
    }

    void Close()
    {
        _out?.Dispose();
        _err?.Dispose();
        _captureOut?.Dispose();
        _captureErr?.Dispose();
        _stdin?.Dispose();
        _console?.Dispose();
        _runtimePidfd?.Dispose();
        _processPidfd?.Dispose();
        Pidfile.Clear(_pidfile);
        Release();
    }

    void Release()
    {
        if (!_holding) return;
        _holding = false;
        _engine.Reaper.ReleaseOrphans();
    }
}
