using Podmon.Logging;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Containers;

/// <summary>
/// createContainer: runs `runtime create` without blocking the loop (spawned, watched by pidfd),
/// and completes when it exits: the container's pid from the pidfile, or an error carrying what
/// the runtime wrote. Non-terminal: the runtime's stdio are the container's pipes (runc hands
/// them down), and everything read from them before the runtime exits is the runtime's own
/// output (the container only runs after `start`). Terminal: the runtime's stdout/stderr are
/// separate capture pipes and the pty master arrives on a console socket.
/// </summary>
sealed class CreateOperation : IChildExitHandler
{
    const int RuntimeOutputLimit = 64 * 1024;

    readonly ContainerEngine _engine;
    readonly CreateRequest _req;
    readonly Action<CreateResult> _done;
    readonly string _pidfile;
    Container? _container;
    ConsoleSocket? _console;
    CaptureBuffer? _runtimeStderr;
    OutputReader? _captureOut, _captureErr;
    bool _holding;
    PodWatchdog.PendingCreate? _pending;

    string Verb => _req.Restore ? "restore" : "create";

    /// <summary>The runtime process while it runs (0 before and after).</summary>
    public int RuntimePid { get; private set; }

    public CreateOperation(ContainerEngine engine, CreateRequest req, Action<CreateResult> done)
    {
        _engine = engine;
        _req = req;
        _done = done;
        _pidfile = req.PidFile ?? Path.Combine(req.BundlePath, "pidfile");
    }

    public void Start()
    {
        var childEnds = new List<OwnedFd>();
        try
        {
            if (string.IsNullOrEmpty(_req.Id)) throw new ContainerException("container id is empty");
            if (!_engine.Reserve(_req.Id)) throw new ContainerException($"container {_req.Id} already exists in this pod");
            if (string.IsNullOrEmpty(_req.BundlePath)) throw new ContainerException("bundle path is empty");
            if (!Directory.Exists(_req.BundlePath)) throw new ContainerException($"bundle path '{_req.BundlePath}' is not a directory");
            var log = ContainerLog.Open(_req.LogDrivers, _req.Id, _engine.Options.JournalSocket);
            _container = new Container(_engine, _req, log);
            if (_req.Terminal)
                _console = new ConsoleSocket(_engine.Loop, ConsoleSocket.TempPath(_engine.Options.RuntimeDir, "term"));
            // The watchdog knows of the create (and gets the runtime's pidfd before it execs), so a
            // podmon killed now leaves nothing behind: the runtime may finish and the watchdog undoes it.
            if (_req.ExecProcessSpec is null)
                _pending = _engine.Watchdog?.BeginCreate(_req.Id,
                    RuntimeArgs.Global(_engine.Options, _req.Id, _req.GlobalArgs, _req.CgroupManager));
            var req = new SpawnRequest
            {
                Path = _engine.Options.RuntimePath,
                Argv = _req.ExecProcessSpec is { } spec
                    ? RuntimeArgs.ExecProcess(_engine.Options, _req.Id, _pidfile, spec, _console?.ConnectPath,
                        _req.GlobalArgs, _req.ExecArgs, _req.CgroupManager)
                    : RuntimeArgs.Create(_engine.Options, _req.Id, _req.BundlePath, _pidfile, _console?.ConnectPath,
                        _req.GlobalArgs, _req.CommandArgs, _req.CgroupManager, _req.Restore),
                Environment = RuntimeArgs.Environment(_req.EnvVars),
                // Without the watchdog's handoff, runc dies with podmon mid-create (best effort).
                ParentDeathSignal = _pending is null ? Libc.SIGKILL : 0,
                Handoff = _pending?.Handoff,
            };
            int stdinFd = -1;
            StdinWriter? stdin = null;
            if (_req.PassthroughStdio)
            {
                if (_req.Terminal) throw new ContainerException("passthrough stdio cannot be combined with a terminal");
                req.Fds.AddRange([(0, 0), (1, 1), (2, 2)]);
            }
            else if (_req.Terminal)
            {
                _runtimeStderr = new CaptureBuffer(RuntimeOutputLimit);
                OwnedFd[] o = Libc.Pipe(), e = Libc.Pipe();
                childEnds.Add(o[1]);
                childEnds.Add(e[1]);
                _captureOut = new OutputReader(_engine.Loop, o[0], Pipe.Stdout, _runtimeStderr);
                _captureErr = new OutputReader(_engine.Loop, e[0], Pipe.Stderr, _runtimeStderr);
                req.Fds.AddRange([(0, -1), (1, o[1].Value), (2, e[1].Value)]);
            }
            else
            {
                if (_req.Stdin)
                {
                    OwnedFd[] i = Libc.Pipe();
                    childEnds.Add(i[0]);
                    stdinFd = i[0].Value;
                    stdin = new StdinWriter(_engine.Loop, i[1], closable: true);
                }
                OwnedFd[] o = Libc.Pipe(), e = Libc.Pipe();
                childEnds.Add(o[1]);
                childEnds.Add(e[1]);
                _container.Stdout = new OutputReader(_engine.Loop, o[0], Pipe.Stdout, _container);
                _container.Stderr = new OutputReader(_engine.Loop, e[0], Pipe.Stderr, _container);
                req.Fds.AddRange([(0, stdinFd), (1, o[1].Value), (2, e[1].Value)]);
            }
            _container.SetStdin(stdin);
            if (_req.AttachSocketPath is { } attach) _container.Attach.Listen(attach, _req.AttachStopAfterStdinEof);
            for (int i = 0; i < _req.AdditionalFds.Count; i++) req.Fds.Add((3 + i, _req.AdditionalFds[i].Value));

            Pidfile.Clear(_pidfile);
            _req.BeforeRuntime?.Invoke();
            _engine.Reaper.HoldOrphans();
            _holding = true;
            SpawnedProcess p = Spawner.Spawn(req);
            if (p.Pidfd is null) throw new ContainerException("pidfd_open is not available: podmon needs Linux 5.3 or later");
            _engine.Reaper.Watch(p.Pid, p.Pidfd, this);
            RuntimePid = p.Pid;
        }
        catch (Exception e)
        {
            Fail(e is ContainerException ? e.Message : $"{Verb} container {_req.Id}: {ErrorText.Describe(e)}");
        }
        finally
        {
            foreach (OwnedFd fd in childEnds) fd.Dispose();
            foreach (OwnedFd fd in _req.AdditionalFds) fd.Dispose();
        }
    }

    /// <summary>The runtime exited.</summary>
    public void OnChildExit(int runtimePid, int exitCode)
    {
        RuntimePid = 0;
        try
        {
            _container!.Stdout?.Drain();
            _container.Stderr?.Drain();
            _captureOut?.Drain();
            _captureErr?.Drain();
            _console?.TryReceive();
            if (exitCode != 0)
            {
                string text = (_runtimeStderr ?? _container.RuntimeOutput).Text();
                Fail($"{Verb} container {_req.Id}: {Path.GetFileName(_engine.Options.RuntimePath)} exited with status {exitCode}" +
                     (text.Length > 0 ? $": {text}" : ""));
                return;
            }
            int pid = Pidfile.Read(_pidfile);
            if (_console is not null)
            {
                OwnedFd? master = _console.TakeMaster();
                if (master is null)
                {
                    KillOrphan(pid);
                    Fail($"{Verb} container {_req.Id}: the runtime sent no terminal to the console socket");
                    return;
                }
                Libc.AddOutputFlags(master.Value, Libc.ONLCR);
                if (_req.Stdin)
                {
                    var dup = OwnedFd.Check(Libc.fcntl(master.Value, Libc.F_DUPFD_CLOEXEC, 0), "fcntl(F_DUPFD_CLOEXEC)");
                    _container.SetStdin(new StdinWriter(_engine.Loop, dup, closable: false));
                }
                _container.Stdout = new OutputReader(_engine.Loop, master, Pipe.Stdout, _container);
            }
            OwnedFd? pidfd = _engine.Reaper.Claim(pid, _container);
            if (pidfd is not null) _engine.Watchdog?.Register(pidfd.Value);
            _container.Log.Commit();
            _pending?.End();
            _container.Started(pid, pidfd);
            _engine.Register(_container);
            DisposeRuntimeIo();
            Release();
            _done(new CreateResult(pid, null));
        }
        catch (Exception e)
        {
            Fail($"{Verb} container {_req.Id}: {ErrorText.Describe(e)}");
        }
    }

    /// <summary>The runtime created a container we cannot serve: kill it (it is our child now).</summary>
    void KillOrphan(int pid)
    {
        OwnedFd? fd = _engine.Reaper.Claim(pid, NoExitHandler.Instance);
        if (fd is not null)
        {
            Native.PidfdSendSignal(fd.Value, Libc.SIGKILL, 0);
            fd.Dispose();
        }
    }

    void Fail(string error)
    {
        _pending?.End();
        DisposeRuntimeIo();
        _container?.Log.Discard();
        _container?.Close();
        _engine.Unreserve(_req.Id);
        Release();
        _done(new CreateResult(0, error));
    }

    void DisposeRuntimeIo()
    {
        _captureOut?.Dispose();
        _captureErr?.Dispose();
        _console?.Dispose();
        _console = null;
    }

    void Release()
    {
        if (!_holding) return;
        _holding = false;
        _engine.Reaper.ReleaseOrphans();
    }

    sealed class NoExitHandler : IChildExitHandler
    {
        public static readonly NoExitHandler Instance = new();
        public void OnChildExit(int pid, int exitCode) { }
    }
}
