using Podmon.Containers;
using Podmon.Logging;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Streaming;

/// <summary>
/// The process of a streaming exec: `runtime exec -d [--console-socket S --tty] --pid-file P ID
/// cmd…`, then the process itself, watched by pidfd once the runtime has exited (podmon is its
/// subreaper), as exec-sync does. Its stdio is a <see cref="ContainerIo"/> (pipes, or the pty the
/// runtime sends) whose sink is this, and this is the one stream endpoint of its attach hub, so
/// input goes through the hub and the session hears when stdin is free again, and a backlogged
/// WebSocket holds the output through its gate. Output goes to the session as it is read; the end
/// (exit code, or why it never ran) once output is drained.
/// </summary>
sealed class ExecProcess : IChildExitHandler, IAttachStream
{
    readonly ContainerEngine _engine;
    readonly StreamRequest _req;
    readonly ExecSession _session;
    readonly string _pidfile;
    ContainerIo? _io;
    OwnedFd? _runtimePidfd, _processPidfd;
    int _runtimePid, _processPid;
    ushort _width, _height;
    bool _holding, _finished, _killed, _outputHeld;

    public ExecProcess(ContainerEngine engine, StreamRequest req, ExecSession session)
    {
        _engine = engine;
        _req = req;
        _session = session;
        _pidfile = Path.Combine(engine.Options.RuntimeDir, $"exec_stream_{Random.Shared.Next():x8}.pid");
    }

    /// <summary>The terminal or stdin pipe exists: input can be written.</summary>
    public bool StdinReady => _io?.Stdin is not null;

    /// <summary>Spawns the runtime; throws <see cref="ContainerException"/> or <see cref="SyscallException"/> if it cannot.</summary>
    public void Start()
    {
        Container c = _engine.Find(_req.ContainerId) ?? throw new ContainerException($"container {_req.ContainerId} not found");
        if (c.State != ContainerState.Running) throw new ContainerException($"container {_req.ContainerId} is not running");
        try
        {
            ContainerIo io = _io = new ContainerIo(_engine.Loop, _req.Tty ? IoMode.Terminal : IoMode.Pipes, _req.Stdin, this,
                _engine.Options.RuntimeDir, "exec-stream-term");
            io.Attach.AddStream(this);
            if (_outputHeld) io.Gate.Hold();
            var spawn = new SpawnRequest
            {
                Path = _engine.Options.RuntimePath,
                Argv = RuntimeArgs.ExecSync(_engine.Options, _req.ContainerId, _pidfile, io.ConsoleSocketPath, _req.Command, _req.CgroupManager),
                ParentDeathSignal = Libc.SIGKILL,
            };
            spawn.Fds.AddRange(io.ChildFds);
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
            _io?.CloseChildEnds();
        }
    }

    public void OnOutput(Pipe pipe, ReadOnlySpan<byte> data) => _session.Output(pipe, data);

    public void OnStdinDrained() => _session.StdinDrained();

    /// <summary>Never comes: the hub is this process's alone and the end is <see cref="ExecSession.Exited"/>.</summary>
    public void OnContainerDone() { }

    /// <summary>Writes client input; false when some of it waits (the caller pauses until <see cref="ExecSession.StdinDrained"/>).</summary>
    public bool WriteStdin(ReadOnlySpan<byte> data) => _io is null || _io.Attach.StreamInput(data);

    /// <summary>The client closed its stdin: EOF for a pipe once the rest is written; a terminal stays (closing it would hang up).</summary>
    public void CloseStdin() => _io?.Stdin?.CloseWhenDrained();

    public void Resize(ushort width, ushort height)
    {
        _width = width;
        _height = height;
        int fd = _io?.TerminalFd ?? -1;
        if (fd >= 0) Libc.SetWindowSize(fd, width, height);
    }

    /// <summary>The WebSocket fell behind (true) or caught up (false): the output waits in the process's pipes meanwhile.</summary>
    public void SetOutputHeld(bool held)
    {
        if (held == _outputHeld) return;
        _outputHeld = held;
        if (_io is null) return;
        if (held) _io.Gate.Hold();
        else _io.Gate.Release();
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
                string text = io.RuntimeOutput.Text().Trim();
                Finish(0, $"exec in container {_req.ContainerId}: {Path.GetFileName(_engine.Options.RuntimePath)} exited with status {exitCode}" +
                          (text.Length > 0 ? $": {text}" : ""));
                return;
            }
            int pid = _processPid = Pidfile.Read(_pidfile);
            if (io.Mode == IoMode.Terminal)
            {
                if (!io.ConnectTerminal(_req.Stdin, onlcr: false)) throw new IOException("the runtime sent no terminal to the console socket");
                io.EndRuntime();
                if (_width != 0 || _height != 0) Libc.SetWindowSize(io.TerminalFd, _width, _height);
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
        _io?.Drain();
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
        _io?.Dispose();
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
