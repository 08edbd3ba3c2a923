using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Containers;

/// <summary>How the process the runtime starts gets its stdio.</summary>
public enum IoMode
{
    /// <summary>Pipes: stdout and stderr read on the loop, stdin (if wanted) a pipe; the runtime inherits them and hands them down.</summary>
    Pipes,
    /// <summary>A pty the runtime makes and sends on a console socket; the runtime's own stdout/stderr go to capture pipes.</summary>
    Terminal,
    /// <summary>The runtime (and so the process) gets this process's own fds 0-2: nothing is read or logged.</summary>
    Passthrough,
}

/// <summary>
/// The IO of one process the runtime starts (a container, an exec'd process), like conmon-rs's
/// container_io: made from an <see cref="IoMode"/>, it owns the output readers (handing output to
/// one <see cref="IOutputSink"/>), the stdin writer, the attach hub and the output gate, and gives
/// the runtime its fds (<see cref="ChildFds"/>, <see cref="ConsoleSocketPath"/>). Everything exists
/// from construction except a terminal's reader and stdin, which come with the pty master once the
/// runtime exited (<see cref="ConnectTerminal"/>). What the runtime itself says goes to
/// <see cref="RuntimeOutput"/> (a terminal's capture pipes; with pipes, the owner's sink puts it
/// there while the runtime runs).
/// </summary>
public sealed class ContainerIo : IDisposable
{
    /// <summary>How much of the runtime's own messages is kept for an error.</summary>
    public const int RuntimeOutputLimit = 64 * 1024;

    readonly EventLoop _loop;
    readonly IOutputSink _sink;
    readonly List<OwnedFd> _childEnds = [];
    readonly List<(int ChildFd, int ParentFd)> _childFds = [];
    ConsoleSocket? _console;
    OutputReader? _runtimeOut, _runtimeErr;

    public IoMode Mode { get; }
    public AttachHub Attach { get; }
    public OutputGate Gate { get; } = new();
    public CaptureBuffer RuntimeOutput { get; } = new(RuntimeOutputLimit);
    public OutputReader? Stdout { get; private set; }
    public OutputReader? Stderr { get; private set; }
    public StdinWriter? Stdin { get; private set; }

    /// <summary>The runtime's fds 0-2 (child fd, our fd; -1 is /dev/null), valid until <see cref="CloseChildEnds"/>.</summary>
    public IReadOnlyList<(int ChildFd, int ParentFd)> ChildFds => _childFds;

    /// <summary>Terminal: the runtime's --console-socket.</summary>
    public string? ConsoleSocketPath => _console?.ConnectPath;

    /// <param name="consoleDir">Terminal: where the console socket is made (named <paramref name="consolePrefix"/>-RANDOM.sock).</param>
    public ContainerIo(EventLoop loop, IoMode mode, bool stdin, IOutputSink sink, string consoleDir, string consolePrefix = "term")
    {
        _loop = loop;
        _sink = sink;
        Mode = mode;
        Attach = new AttachHub(loop, Gate);
        try
        {
            switch (mode)
            {
                case IoMode.Passthrough:
                    _childFds.AddRange([(0, 0), (1, 1), (2, 2)]);
                    break;
                case IoMode.Terminal:
                    _console = new ConsoleSocket(loop, ConsoleSocket.TempPath(consoleDir, consolePrefix));
                    _childFds.Add((0, -1));
                    _runtimeOut = ChildWrites(1, Pipe.Stdout, RuntimeOutput);
                    _runtimeErr = ChildWrites(2, Pipe.Stderr, RuntimeOutput);
                    break;
                default:
                    if (stdin)
                    {
                        OwnedFd[] i = Libc.Pipe();
                        _childEnds.Add(i[0]);
                        _childFds.Add((0, i[0].Value));
                        SetStdin(new StdinWriter(loop, i[1], closable: true));
                    }
                    else _childFds.Add((0, -1));
                    Stdout = ChildWrites(1, Pipe.Stdout, sink);
                    Stderr = ChildWrites(2, Pipe.Stderr, sink);
                    Gate.Add(Stdout);
                    Gate.Add(Stderr);
                    break;
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>A pipe whose write end is the child's <paramref name="childFd"/> and whose read end goes to <paramref name="sink"/>.</summary>
    OutputReader ChildWrites(int childFd, Pipe pipe, IOutputSink sink)
    {
        OwnedFd[] p = Libc.Pipe();
        _childEnds.Add(p[1]);
        _childFds.Add((childFd, p[1].Value));
        return new OutputReader(_loop, p[0], pipe, sink);
    }

    void SetStdin(StdinWriter stdin)
    {
        Stdin = stdin;
        Attach.SetStdin(stdin);
    }

    /// <summary>The runtime was spawned (or could not be): our copies of its ends go, so EOF comes when it and the process close theirs.</summary>
    public void CloseChildEnds()
    {
        foreach (OwnedFd fd in _childEnds) fd.Dispose();
        _childEnds.Clear();
    }

    /// <summary>The runtime exited: read the rest of what it said, and (terminal) take the pty if it sent it.</summary>
    public void DrainRuntimeMessages()
    {
        _runtimeOut?.Drain();
        _runtimeErr?.Drain();
        _console?.TryReceive();
    }

    /// <summary>Reads what the process wrote and is still in its pipes.</summary>
    public void Drain()
    {
        Stdout?.Drain();
        Stderr?.Drain();
    }

    /// <summary>
    /// Terminal: the pty master from the console socket becomes the output reader (and, with
    /// <paramref name="stdin"/>, a dup of it the stdin writer). False if the runtime sent none.
    /// </summary>
    /// <param name="onlcr">Turn on ONLCR (a container's terminal, like conmon-rs).</param>
    public bool ConnectTerminal(bool stdin, bool onlcr)
    {
        OwnedFd? master = _console?.TakeMaster();
        if (master is null) return false;
        try
        {
            if (onlcr) Libc.AddOutputFlags(master.Value, Libc.ONLCR);
            if (stdin) SetStdin(new StdinWriter(_loop, OwnedFd.Check(Libc.fcntl(master.Value, Libc.F_DUPFD_CLOEXEC, 0), "fcntl(F_DUPFD_CLOEXEC)"), closable: false));
        }
        catch
        {
            master.Dispose();
            throw;
        }
        Stdout = new OutputReader(_loop, master, Pipe.Stdout, _sink);
        Gate.Add(Stdout);
        return true;
    }

    /// <summary>The runtime is done with us: the capture pipes and the console socket go.</summary>
    public void EndRuntime()
    {
        _runtimeOut?.Dispose();
        _runtimeErr?.Dispose();
        _console?.Dispose();
        _console = null;
        RuntimeOutput.Dispose();
    }

    /// <summary>The pty master while it is open, else -1.</summary>
    public int TerminalFd => Mode == IoMode.Terminal && Stdout is { IsOpen: true } ? Stdout.Fd : -1;

    /// <summary>Releases every fd; attach clients still taking their last output finish first.</summary>
    public void Dispose()
    {
        CloseChildEnds();
        EndRuntime();
        Stdout?.Dispose();
        Stderr?.Dispose();
        Stdin?.Dispose();
        Attach.Dispose();
        RuntimeOutput.Dispose();
    }
}
