using Podmon.Diagnostics;
using Podmon.Logging;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Containers;

public enum ContainerState { Creating, Running, Exited }

/// <summary>
/// One container from create to exit: its IO on the loop (<see cref="ContainerIo"/>; output to the
/// log drivers and attach clients straight from the read buffer), its exit, its OOM watcher.
/// </summary>
public sealed class Container : IChildExitHandler, IOutputSink
{
    readonly ContainerEngine _engine;
    readonly CreateRequest _request;
    OomWatcher? _oom;
    OwnedFd? _pidfd;

    public string Id { get; }
    public int Pid { get; private set; }
    public bool HasTerminal { get; }
    public ContainerState State { get; private set; } = ContainerState.Creating;
    public int? ExitCode { get; private set; }
    /// <summary>Killed by <see cref="KillForTimeout"/>: its exit is recorded as <see cref="TimedOutExitCode"/>.</summary>
    public bool TimedOut { get; private set; }

    /// <summary>What conmon records for a container it killed on --timeout (podman reports 255).</summary>
    public const int TimedOutExitCode = -1;
    public bool OomKilled => _oom?.Fired ?? false;

    internal ContainerLog Log { get; }
    public ContainerIo Io { get; }

    /// <summary>Takes <paramref name="log"/>; the IO (pipes or console socket) is made here, before the runtime runs.</summary>
    internal Container(ContainerEngine engine, CreateRequest request, ContainerLog log, IoMode mode)
    {
        _engine = engine;
        _request = request;
        Id = request.Id;
        HasTerminal = request.Terminal;
        Log = log;
        Io = new ContainerIo(engine.Loop, mode, request.Stdin, this, engine.Options.RuntimeDir);
        Io.Attach.SendDonePacket = request.AttachDonePacket;
    }

    public void OnOutput(Pipe pipe, ReadOnlySpan<byte> data)
    {
        if (State == ContainerState.Creating)
        {
            // While the runtime runs, the container's pipes carry the runtime's own messages.
            Io.RuntimeOutput.Append(data);
            // An exec'd process already runs while the runtime is still busy.
            if (_request.ExecProcessSpec is null) return;
        }
        Log.Write(pipe, data, LogTime.Now());
        Io.Attach.Broadcast(pipe, data);
    }

    /// <summary>The runtime created it: from now on output is the container's.</summary>
    internal void Started(int pid, OwnedFd? pidfd)
    {
        Pid = pid;
        _pidfd = pidfd;
        State = ContainerState.Running;
        _oom = OomWatcher.Start(_engine.Loop, pid, _request.OomExitPaths);
    }

    /// <summary>TIOCSWINSZ on the pty master.</summary>
    public void Resize(ushort width, ushort height)
    {
        if (!HasTerminal) throw new ContainerException($"container {Id} has no terminal");
        if (Io.TerminalFd < 0) throw new ContainerException($"container {Id}: terminal not connected");
        try { Libc.SetWindowSize(Io.TerminalFd, width, height); }
        catch (SyscallException e) { throw new ContainerException($"container {Id}: resize terminal: {e.Message}", e); }
    }

    public void Kill(int signal)
    {
        if (_pidfd is not null && !_pidfd.IsClosed) Native.PidfdSendSignal(_pidfd.Value, signal, 0);
        else if (Pid > 0 && State == ContainerState.Running && !_exiting) Libc.kill(Pid, signal); // reaped: the pid may be reused
    }

    /// <summary>
    /// conmon's --timeout: SIGKILL to the container's whole process group (children that left the
    /// process, e.g. of an exec'd shell, go too) and its exit recorded as -1, not as the kill's 137.
    /// </summary>
    public void KillForTimeout()
    {
        if (State != ContainerState.Running) return;
        TimedOut = true;
        ProcessGroup.Kill(Pid);
        Kill(Libc.SIGKILL);
    }

    /// <summary>
    /// The container exited: drain what it wrote, make the logs durable (on a ring loop without
    /// stopping the loop: the rest waits for the fsyncs), write OOM files, then the exit files,
    /// tell attach clients, close everything, run the cleanup command.
    /// </summary>
    public void OnChildExit(int pid, int exitCode)
    {
        if (State == ContainerState.Exited || _exiting) return;
        _exiting = true;
        try { Io.Drain(); }
        catch (Exception e)
        {
            Diagnostics.Log.Error($"container {Id}: finishing its output: {ErrorText.Describe(e)}");
        }
        if (_request.SyncLogOnExit) Log.Sync(_engine.Loop, () => Finish(pid, exitCode));
        else Finish(pid, exitCode);
    }

    bool _exiting;

    void Finish(int pid, int exitCode)
    {
        try { _oom?.CheckNow(); }
        catch (Exception e)
        {
            Diagnostics.Log.Error($"container {Id}: finishing its output: {ErrorText.Describe(e)}");
        }
        if (TimedOut) exitCode = TimedOutExitCode;
        ExitFiles.WriteAll(_request.ExitPaths, exitCode);
        ExitCode = exitCode;
        State = ContainerState.Exited;
        Io.Attach.Done();
        Close();
        Diagnostics.Log.Debug($"container {Id} (pid {pid}) exited with {exitCode}");
        _engine.Forget(this);
        CleanupCommand.Run(Id, _request.CleanupCmd, _engine.Reaper);
    }

    /// <summary>Releases every fd (also when create failed).</summary>
    internal void Close()
    {
        Io.Dispose();
        _oom?.Dispose();
        _pidfd?.Dispose();
        Log.Dispose();
        foreach (OwnedFd fd in _request.LeakFds) fd.Dispose();
    }
}
