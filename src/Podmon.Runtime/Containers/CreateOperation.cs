using Podmon.Logging;
using Podmon.Loop;
using Podmon.Sys;
using Podmon.Tracing;

namespace Podmon.Containers;

/// <summary>
/// createContainer: runs `runtime create` without blocking the loop (spawned, watched by pidfd),
/// and completes when it exits: the container's pid from the pidfile, or an error carrying what
/// the runtime wrote. Non-terminal: the runtime's stdio are the container's pipes (runc hands
/// them down), and everything read from them before the runtime exits is the runtime's own
/// output (the container only runs after `start`). Terminal: the runtime's stdout/stderr are
/// separate capture pipes and the pty master arrives on a console socket. Both are the
/// container's <see cref="ContainerIo"/>.
/// </summary>
public sealed class CreateOperation : IChildExitHandler
{
    readonly ContainerEngine _engine;
    readonly CreateRequest _req;
    readonly Action<CreateResult> _done;
    readonly string _pidfile;
    Container? _container;
    bool _holding;
    PodWatchdog.PendingCreate? _pending;
    Span? _span;

    string Verb => _req.Restore ? "restore" : "create";

    /// <summary>The runtime process while it runs (0 before and after).</summary>
    public int RuntimePid { get; private set; }

    internal CreateOperation(ContainerEngine engine, CreateRequest req, Action<CreateResult> done)
    {
        _engine = engine;
        _req = req;
        _done = done;
        _pidfile = req.PidFile ?? Path.Combine(req.BundlePath ?? "", "pidfile");
    }

    internal void Start()
    {
        if (_engine.Tracer is { } tracer)
        {
            _span = tracer.StartSpan($"runtime_{Verb}", _req.Trace);
            _span.SetAttribute("container_id", _req.Id);
            _span.SetAttribute("runtime", _engine.Options.RuntimePath);
        }
        try
        {
            if (string.IsNullOrEmpty(_req.Id)) throw new ContainerException("container id is empty");
            if (!_engine.Reserve(_req.Id)) throw new ContainerException($"container {_req.Id} already exists in this pod");
            // An exec needs no bundle, unless its pidfile is to be made there.
            if ((_req.ExecProcessSpec is null || _req.PidFile is null) && string.IsNullOrEmpty(_req.BundlePath)) throw new ContainerException("bundle path is empty");
            if (_req.BundlePath is { Length: > 0 } && !Directory.Exists(_req.BundlePath)) throw new ContainerException($"bundle path '{_req.BundlePath}' is not a directory");
            IoMode mode = _req.PassthroughStdio ? IoMode.Passthrough : _req.Terminal ? IoMode.Terminal : IoMode.Pipes;
            if (_req.PassthroughStdio && _req.Terminal) throw new ContainerException("passthrough stdio cannot be combined with a terminal");
            var log = ContainerLog.Open(_req.LogDrivers, _req.Id, _engine.Options.JournalSocket);
            try { _container = new Container(_engine, _req, log, mode); }
            catch
            {
                log.Discard();
                log.Dispose();
                throw;
            }
            ContainerIo io = _container.Io;
            // The watchdog knows of the create (and gets the runtime's pidfd before it execs), so a
            // podmon killed now leaves nothing behind: the runtime may finish and the watchdog undoes it.
            if (_req.ExecProcessSpec is null)
                _pending = _engine.Watchdog.Start()?.BeginCreate(_req.Id,
                    RuntimeArgs.Global(_engine.Options, _req.Id, _req.GlobalArgs, _req.CgroupManager));
            var req = new SpawnRequest
            {
                Path = _engine.Options.RuntimePath,
                Argv = _req.ExecProcessSpec is { } spec
                    ? RuntimeArgs.ExecProcess(_engine.Options, _req.Id, _pidfile, spec, io.ConsoleSocketPath,
                        _req.GlobalArgs, _req.ExecArgs, _req.CgroupManager)
                    : RuntimeArgs.Create(_engine.Options, _req.Id, _req.BundlePath!, _pidfile, io.ConsoleSocketPath,
                        _req.GlobalArgs, _req.CommandArgs, _req.CgroupManager, _req.Restore),
                Environment = RuntimeArgs.Environment(_req.EnvVars),
                // Without the watchdog's handoff, runc dies with podmon mid-create (best effort).
                ParentDeathSignal = _pending is null ? Libc.SIGKILL : 0,
                Handoff = _pending?.Handoff,
            };
            req.Fds.AddRange(io.ChildFds);
            if (_req.AttachSocketPath is { } attach) io.Attach.Listen(attach, _req.AttachStopAfterStdinEof);
            for (int i = 0; i < _req.AdditionalFds.Count; i++) req.Fds.Add((3 + i, _req.AdditionalFds[i].Value));

            Pidfile.Clear(_pidfile);
            _req.BeforeRuntime?.Invoke();
            _engine.Reaper.HoldOrphans();
            _holding = true;
            SpawnedProcess p = Spawner.Spawn(req);
            if (p.Pidfd is null) throw new ContainerException("pidfd_open is not available: podmon needs Linux 5.3 or later");
            _engine.Reaper.Watch(p.Pid, p.Pidfd, this);
            RuntimePid = p.Pid;
            _span?.SetAttribute("runtime.pid", p.Pid);
        }
        catch (Exception e)
        {
            Fail(e is ContainerException ? e.Message : $"{Verb} container {_req.Id}: {ErrorText.Describe(e)}");
        }
        finally
        {
            _container?.Io.CloseChildEnds();
            foreach (OwnedFd fd in _req.AdditionalFds) fd.Dispose();
        }
    }

    /// <summary>The runtime exited.</summary>
    public void OnChildExit(int runtimePid, int exitCode)
    {
        RuntimePid = 0;
        _span?.SetAttribute("runtime.exit_code", exitCode);
        try
        {
            ContainerIo io = _container!.Io;
            io.Drain();
            io.DrainRuntimeMessages();
            if (exitCode != 0)
            {
                string text = io.RuntimeOutput.Text();
                Fail($"{Verb} container {_req.Id}: {Path.GetFileName(_engine.Options.RuntimePath)} exited with status {exitCode}" +
                     (text.Length > 0 ? $": {text}" : ""));
                return;
            }
            int pid = Pidfile.Read(_pidfile);
            if (io.Mode == IoMode.Terminal && !io.ConnectTerminal(_req.Stdin, onlcr: true))
            {
                KillOrphan(pid);
                Fail($"{Verb} container {_req.Id}: the runtime sent no terminal to the console socket");
                return;
            }
            OwnedFd? pidfd = _engine.Reaper.Claim(pid, _container);
            if (pidfd is not null) _engine.Watchdog.Start()?.Register(pidfd.Value);
            _container.Log.Commit();
            _pending?.End();
            _container.Started(pid, pidfd);
            _engine.Register(_container);
            io.EndRuntime();
            Release();
            _span?.SetAttribute("container.pid", pid);
            _span?.End();
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
        _container?.Log.Discard();
        _container?.Close();
        _engine.Unreserve(_req.Id);
        Release();
        _span?.SetError(error);
        _span?.End();
        _done(new CreateResult(0, error));
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
