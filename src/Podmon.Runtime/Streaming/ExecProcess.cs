using Podmon.Containers;
using Podmon.Sys;

namespace Podmon.Streaming;

/// <summary>
/// The process of a streaming exec: a <see cref="DetachedExec"/> whose stdio (pipes, or the pty
/// the runtime sends) has this as its sink and as the one stream endpoint of its attach hub, so
/// input goes through the hub and the session hears when stdin is free again, and a backlogged
/// WebSocket holds the output through its gate. A resize before the pty exists waits for it.
/// Output goes to the session as it is read; the end (exit code, or why it never ran) once output
/// is drained.
/// </summary>
sealed class ExecProcess : IDetachedExecOwner, IAttachStream
{
    readonly ContainerEngine _engine;
    readonly StreamRequest _req;
    readonly ExecSession _session;
    DetachedExec? _exec;
    ushort _width, _height;
    bool _finished, _outputHeld;

    public ExecProcess(ContainerEngine engine, StreamRequest req, ExecSession session)
    {
        _engine = engine;
        _req = req;
        _session = session;
    }

    ContainerIo? Io => _exec?.Io;

    /// <summary>The terminal or stdin pipe exists: input can be written.</summary>
    public bool StdinReady => Io?.Stdin is not null;

    /// <summary>Spawns the runtime; throws <see cref="ContainerException"/> or <see cref="SyscallException"/> if it cannot.</summary>
    public void Start()
    {
        try
        {
            DetachedExec exec = _exec = new DetachedExec(_engine, _req.ContainerId, _req.Command, _req.CgroupManager, _req.Tty, _req.Stdin,
                this, this, "exec_stream", "exec-stream-term", startWatchdog: false);
            exec.Io.Attach.AddStream(this);
            if (_outputHeld) exec.Io.Gate.Hold();
            exec.Start(environment: null);
        }
        catch
        {
            _exec?.Close();
            throw;
        }
    }

    public void OnOutput(Pipe pipe, ReadOnlySpan<byte> data) => _session.Output(pipe, data);

    public void OnStdinDrained() => _session.StdinDrained();

    /// <summary>Never comes: the hub is this process's alone and the end is <see cref="ExecSession.Exited"/>.</summary>
    public void OnContainerDone() { }

    /// <summary>Writes client input; false when some of it waits (the caller pauses until <see cref="ExecSession.StdinDrained"/>).</summary>
    public bool WriteStdin(ReadOnlySpan<byte> data) => Io is not { } io || io.Attach.StreamInput(data);

    /// <summary>The client closed its stdin: EOF for a pipe once the rest is written; a terminal stays (closing it would hang up).</summary>
    public void CloseStdin() => Io?.Stdin?.CloseWhenDrained();

    public void Resize(ushort width, ushort height)
    {
        _width = width;
        _height = height;
        int fd = Io?.TerminalFd ?? -1;
        if (fd >= 0) Libc.SetWindowSize(fd, width, height);
    }

    /// <summary>The WebSocket fell behind (true) or caught up (false): the output waits in the process's pipes meanwhile.</summary>
    public void SetOutputHeld(bool held)
    {
        if (held == _outputHeld) return;
        _outputHeld = held;
        if (Io is not { } io) return;
        if (held) io.Gate.Hold();
        else io.Gate.Release();
    }

    /// <summary>The client left: SIGKILL the process, once the runtime has started it.</summary>
    public void Kill() => _exec?.Kill(orTheRuntime: false);

    public void OnRuntimeFailed(int exitCode) => Finish(0, _exec!.RuntimeFailure(exitCode, _exec.Io.RuntimeOutput.Text().Trim()));

    public void OnProcessStarted()
    {
        ContainerIo io = _exec!.Io;
        if (io.Mode != IoMode.Terminal) return;
        if (_width != 0 || _height != 0) Libc.SetWindowSize(io.TerminalFd, _width, _height);
        _session.StdinDrained(); // input that waited for the terminal may go now
    }

    public void OnProcessExited(int exitCode) => Finish(exitCode, null);

    public void OnFailed(string error) => Finish(0, error);

    void Finish(int exitCode, string? error)
    {
        if (_finished) return;
        _finished = true;
        _exec?.Close();
        _session.Exited(exitCode, error);
    }
}
