using System.Globalization;
using System.Text;
using Podmon.Cli;
using Podmon.Containers;
using Podmon.Diagnostics;
using Podmon.Logging;
using Podmon.Loop;
using Podmon.Server;
using Podmon.Sys;

namespace Podmon.ConmonCli;

/// <summary>
/// conmon mode: the C conmon's command-line contract (podman, CRI-O) as a front end over the
/// <see cref="ContainerEngine"/>. One process monitors one container or one exec session.
/// native/early.c has already waited for the start byte and forked: this is the daemon, and the
/// launcher (the process podman started) exits once <see cref="Run"/> reports "ready".
/// </summary>
public sealed class ConmonMonitor : ISignalHandler
{
    readonly ConmonOptions _o;
    readonly int _syncFd, _startFd, _attachFd;
    readonly EventLoop _loop = new();
    readonly ChildReaper _reaper;
    readonly IdleCollector _idle;
    ContainerEngine _engine = null!;
    Container? _container;
    CreateOperation? _create;
    OutputReader? _ctl, _winsz;
    OwnedFd? _ctlWriter, _winszWriter;
    int _exitCode = 1;

    ConmonMonitor(ConmonOptions o, int syncFd, int startFd, int attachFd)
    {
        _o = o;
        _syncFd = syncFd;
        _startFd = startFd;
        _attachFd = attachFd;
        _reaper = new ChildReaper(_loop);
        _idle = new IdleCollector(_loop);
    }

    public static int EnvFd(string name) =>
        Environment.GetEnvironmentVariable(name) is { } v && int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int fd) ? fd : -1;

    /// <summary>Runs conmon mode; returns the monitor's exit status (the container's exit code).</summary>
    public static int Run(IReadOnlyList<string> args, int readyFd)
    {
        int syncFd = EnvFd("_OCI_SYNCPIPE"), startFd = EnvFd("_OCI_STARTPIPE"), attachFd = EnvFd("_OCI_ATTACHPIPE");
        foreach (int fd in (ReadOnlySpan<int>)[syncFd, startFd, attachFd])
            if (fd >= 0) Libc.fcntl(fd, Libc.F_SETFD, Libc.FD_CLOEXEC);
        ConmonMonitor m;
        try
        {
            ConmonOptions o = ConmonCommandLine.Parse(args);
            o.Validate();
            Log.Configure(o.Syslog ? LogDriverKind.Systemd : LogDriverKind.None, o.LogLevel);
            m = new ConmonMonitor(o, syncFd, startFd, attachFd);
            m.Prepare();
        }
        catch (Exception e)
        {
            string msg = ErrorText.Describe(e);
            WriteSync(syncFd, -1, msg);
            if (readyFd >= 0) ServerHost.NotifyLauncher(readyFd, $"error 1 conmon: {msg}\n");
            else Log.Stderr($"conmon: {msg}");
            return 1;
        }
        if (readyFd >= 0) ServerHost.NotifyLauncher(readyFd, "ready\n");
        return m.Serve();
    }

    /// <summary>Everything before the launcher may exit: process setup, the conmon pidfile.</summary>
    void Prepare()
    {
        ServerHost.ConfigureProcess();
        if (_o.ConmonPidfile is { } pf) ServerHost.WritePidfile(pf, Libc.getpid());
    }

    int Serve()
    {
        using var signals = new SignalSource(_loop, this);
        _engine = new ContainerEngine(_loop, _reaper, new EngineOptions
        {
            RuntimePath = _o.Runtime!,
            RuntimeDir = Environment.GetEnvironmentVariable("TMPDIR") is { Length: > 0 } t ? t : "/tmp",
            LogLevel = _o.LogLevel,
            // conmon does not kill the container when it dies; neither does conmon mode (no watchdog).
            WatchdogPath = null,
        });
        _engine.ContainerExited += OnExited;
        try
        {
            CreateRequest req = BuildRequest();
            if (!req.PassthroughStdio) OpenFifos();
            _create = _engine.Create(req, OnCreated);
            if (req.PassthroughStdio) DisconnectStdio(); // the runtime has them now
        }
        catch (Exception e)
        {
            WriteSync(_syncFd, -1, ErrorText.Describe(e));
            return 1;
        }
        _loop.Run();
        CloseFifos();
        _engine.Dispose();
        return _exitCode;
    }

    CreateRequest BuildRequest()
    {
        string bundle = _o.Bundle!;
        var drivers = new List<LogDriverConfig>();
        bool passthrough = false;
        ulong max = _o.LogSizeMax > 0 ? (ulong)Math.Max(_o.LogSizeMax, (long)ContainerLog.MinMaxSize) : 0;
        foreach (ConmonLogSpec l in _o.Logs)
        {
            switch (l.Driver)
            {
                case "k8s-file":
                    drivers.Add(new LogDriverConfig(LogDriverType.ContainerRuntimeInterface, l.Path, max, Append: true));
                    break;
                case "journald":
                    drivers.Add(new LogDriverConfig(LogDriverType.Journald) { JournalFields = JournalFields(l.Path) });
                    break;
                case "passthrough":
                    passthrough = true;
                    break;
            }
        }
        if (passthrough && (Libc.isatty(0) == 1 || Libc.isatty(1) == 1 || Libc.isatty(2) == 1))
            throw new UsageException("cannot use a tty with passthrough logging mode to prevent attacks via TIOCSTI");
        var globalArgs = new List<string>(_o.RuntimeArgs);
        var commandArgs = new List<string>();
        if (_o.NoPivot) commandArgs.Add("--no-pivot");
        if (_o.NoNewKeyring) commandArgs.Add("--no-new-keyring");
        // restore: runc returns once the container runs; CRIU works (and logs) in the bundle.
        if (_o.Restore is { } image) commandArgs.AddRange(["--detach", "--image-path", image, "--work-path", bundle]);
        if (!_o.Exec) commandArgs.AddRange(_o.RuntimeOpts); // conmon passes --runtime-opt to create/restore too
        var execArgs = new List<string>(_o.RuntimeOpts);
        string cid = _o.Cid!;
        var oom = new List<string> { Path.Combine(bundle, "oom") };
        if (_o.PersistDir is { } pd) oom.Add(Path.Combine(pd, "oom"));
        return new CreateRequest
        {
            Id = cid,
            BundlePath = bundle,
            PidFile = _o.ContainerPidfile,
            Terminal = _o.Terminal,
            Stdin = _o.Stdin,
            ExitPaths = ExitPaths(cid),
            OomExitPaths = oom,
            LogDrivers = drivers,
            GlobalArgs = globalArgs,
            CommandArgs = commandArgs,
            CgroupManager = _o.SystemdCgroup ? CgroupManager.Systemd : CgroupManager.Cgroupfs,
            ExecProcessSpec = _o.Exec ? _o.ExecProcessSpec : null,
            ExecArgs = execArgs,
            AttachSocketPath = passthrough ? null : AttachPath(bundle),
            PassthroughStdio = passthrough,
            Restore = _o.Restore is not null,
            AttachStopAfterStdinEof = _o.Stdin && !_o.LeaveStdinOpen,
            AttachDonePacket = false,
            BeforeRuntime = _o.Exec ? AnnounceExecAttach : null,
            SyncLogOnExit = !_o.NoSyncLog,
            AdditionalFds = PreservedFds(_o.RuntimeOpts),
        };
    }

    /// <summary>
    /// podman's --preserve-fds N (and LISTEN_FDS): it puts the fds at 3..N+2 in the monitor and passes
    /// `--runtime-opt --preserve-fds --runtime-opt N`; the runtime must find them at the same numbers.
    /// They are handed on and closed here once the runtime has them, as podman closes its copies.
    /// </summary>
    List<OwnedFd> PreservedFds(IReadOnlyList<string> runtimeOpts)
    {
        string? value = null;
        for (int i = 0; i < runtimeOpts.Count; i++)
        {
            if (runtimeOpts[i] == "--preserve-fds" && i + 1 < runtimeOpts.Count) value = runtimeOpts[++i];
            else if (runtimeOpts[i].StartsWith("--preserve-fds=", StringComparison.Ordinal)) value = runtimeOpts[i]["--preserve-fds=".Length..];
        }
        if (value is null) return [];
        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n > 65_536)
            throw new UsageException($"--preserve-fds {value}: not a number of fds");
        var fds = new List<OwnedFd>(n);
        for (int fd = 3; fd < 3 + n; fd++)
        {
            if (fd == _syncFd || fd == _startFd || fd == _attachFd)
                throw new UsageException($"--preserve-fds {n}: fd {fd} is the monitor's own sync, start or attach pipe");
            if (Libc.fcntl(fd, Libc.F_GETFD, 0) < 0)
                throw new UsageException($"--preserve-fds {n}: fd {fd} is not open in the monitor");
            fds.Add(new OwnedFd(fd));
        }
        return fds;
    }

    /// <summary>conmon writes the exit code to PERSIST_DIR/exit and EXIT_DIR/&lt;cid&gt;.</summary>
    List<string> ExitPaths(string cid)
    {
        var paths = new List<string>();
        if (_o.PersistDir is { } pd) paths.Add(Path.Combine(pd, "exit"));
        if (_o.ExitDir is { } d) paths.Add(Path.Combine(d, cid));
        return paths;
    }

    /// <summary>passthrough: after the runtime got our stdio, let go of the caller's streams (conmon does the same).</summary>
    static void DisconnectStdio()
    {
        using var nul = OwnedFd.Check(Libc.open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC, 0), "open", "/dev/null");
        for (int fd = 0; fd <= 2; fd++) Libc.dup3(nul.Value, fd, 0);
    }

    /// <summary>journald fields: conmon's CONTAINER_TAG (--log-tag or the journald:TAG value), CONTAINER_NAME, --log-label NAME=value.</summary>
    List<string> JournalFields(string? tag)
    {
        var f = new List<string>();
        if ((tag ?? _o.LogTag) is { Length: > 0 } t) f.AddRange([$"CONTAINER_TAG={t}", $"SYSLOG_IDENTIFIER={t}"]);
        if (_o.Name is { Length: > 0 } n) f.Add($"CONTAINER_NAME={n}");
        foreach (string label in _o.LogLabels)
            if (label.Contains('=')) f.Add(label);
        return f;
    }

    /// <summary>
    /// &lt;bundle&gt;/attach (--full-attach, or no --socket-dir-path); otherwise conmon's layout:
    /// DIR/&lt;cuuid&gt; is a symlink to the bundle and the socket is bound through it.
    /// </summary>
    string AttachPath(string bundle)
    {
        if (_o.FullAttach || _o.SocketDirPath is null) return Path.Combine(bundle, "attach");
        string name = _o.Cuuid ?? _o.Cid!;
        string link = Path.Combine(_o.SocketDirPath, name);
        if (link.Length == 107) link = link[..^1]; // conmon shortens a 107-byte name by one
        try
        {
            Directory.CreateDirectory(_o.SocketDirPath);
            File.Delete(link);
            File.CreateSymbolicLink(link, bundle);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ContainerException($"attach socket link '{link}': {ErrorText.Describe(e)}", e);
        }
        return Path.Combine(link, "attach");
    }

    /// <summary>exec: the attach socket exists; tell podman, then wait until it has connected (second start byte).</summary>
    void AnnounceExecAttach()
    {
        if (_attachFd >= 0) WriteSync(_attachFd, 0, null);
        if (_o.ExecAttach && _startFd >= 0) ReadByte(_startFd);
    }

    static unsafe void ReadByte(int fd)
    {
        byte* b = stackalloc byte[8192]; // a whole SEQPACKET record
        while (Libc.read(fd, b, 8192) < 0 && Errno.Last == Errno.EINTR) { }
    }

    void OnCreated(CreateResult r)
    {
        if (!r.Succeeded)
        {
            WriteSync(_syncFd, -1, r.Error);
            _exitCode = 1;
            _loop.Stop();
            return;
        }
        _container = _engine.Find(_o.Cid!);
        WriteSync(_syncFd, r.ContainerPid, null);
        _idle.NoteActivity();
        if (_o.TimeoutSec > 0)
            _loop.Timers.Schedule(() => _container?.KillForTimeout(), Libc.MonotonicMs() + _o.TimeoutSec * 1000L);
    }

    /// <summary>Exit file written: (exec) the code on the sync pipe, then [--exit-delay] the exit command, waited for; then exit.</summary>
    void OnExited(Container c)
    {
        _exitCode = c.ExitCode ?? 1;
        if (_o.Exec) WriteSync(_syncFd, _exitCode, c.TimedOut ? "command timed out" : null);
        CloseFifos();
        if (_o.ExitDelaySec > 0)
            _loop.Timers.Schedule(RunExitCommand, Libc.MonotonicMs() + _o.ExitDelaySec * 1000L);
        else RunExitCommand();
    }

    void RunExitCommand()
    {
        var argv = new List<string>();
        if (_o.ExitCommand is { } cmd)
        {
            argv.Add(cmd);
            argv.AddRange(_o.ExitCommandArgs);
        }
        CleanupCommand.Run(_o.Cid!, argv, _reaper, _ => StopWhenAttachDone());
    }

    const int AttachFinishMs = 5000;

    /// <summary>Like conmon, which writes attach output blocking: exit once attach clients have taken the last output (5 s at most).</summary>
    void StopWhenAttachDone()
    {
        if (_engine.AttachClientsFinishing == 0)
        {
            _loop.Stop();
            return;
        }
        _engine.AttachClientsFinished += _loop.Stop;
        _loop.Timers.Schedule(_loop.Stop, Libc.MonotonicMs() + AttachFinishMs);
    }

    /// <summary>The ctl and winsz FIFOs in the bundle, each held open for writing too (no EOF when a client closes).</summary>
    void OpenFifos()
    {
        (_ctl, _ctlWriter) = OpenFifo(Path.Combine(_o.Bundle!, "ctl"), new CtlSink(this, winsz: false));
        (_winsz, _winszWriter) = OpenFifo(Path.Combine(_o.Bundle!, "winsz"), new CtlSink(this, winsz: true));
    }

    (OutputReader, OwnedFd) OpenFifo(string path, IOutputSink sink)
    {
        if (Libc.mkfifo(path, 0b110_110_000) < 0 && Errno.Last != Errno.EEXIST)
            throw new SyscallException("mkfifo", Errno.Last, path);
        var r = OwnedFd.Check(Libc.open(path, Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0), "open", path);
        var w = OwnedFd.Check(Libc.open(path, Libc.O_WRONLY | Libc.O_CLOEXEC, 0), "open", path);
        return (new OutputReader(_loop, r, Pipe.Stdout, sink), w);
    }

    void CloseFifos()
    {
        _ctl?.Dispose();
        _winsz?.Dispose();
        _ctlWriter?.Dispose();
        _winszWriter?.Dispose();
        _ctl = _winsz = null;
        _ctlWriter = _winszWriter = null;
    }

    /// <summary>ctl: "1 HEIGHT WIDTH" resize, "2 0 0" reopen logs; winsz: "HEIGHT WIDTH".</summary>
    void Control(string line, bool winsz)
    {
        string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        int[] n = new int[f.Length];
        for (int i = 0; i < f.Length; i++)
            if (!int.TryParse(f[i], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out n[i])) { Log.Warn($"bad control line '{line}'"); return; }
        try
        {
            if (winsz && n.Length >= 2) Resize(n[0], n[1]);
            else if (!winsz && n.Length >= 3 && n[0] == 1) Resize(n[1], n[2]);
            else if (!winsz && n.Length >= 1 && n[0] == 2) _engine.ReopenLogs(_o.Cid!);
            else Log.Warn($"unknown control line '{line}'");
        }
        catch (ContainerException e) { Log.Warn(e.Message); }
    }

    void Resize(int height, int width)
    {
        if (_container is { HasTerminal: true, State: ContainerState.Running })
            _engine.SetWindowSize(_o.Cid!, (ushort)width, (ushort)height);
    }

    /// <summary>One message as conmon writes it: `{"data": N}\n` or `{"data": N, "message": "…"}\n`, one write; EPIPE ignored.</summary>
    public static string SyncMessage(int data, string? message)
    {
        var sb = new StringBuilder("{\"data\": ").Append(data.ToString(CultureInfo.InvariantCulture));
        if (message is not null) VersionInfo.JsonString(sb.Append(", \"message\": "), message);
        return sb.Append("}\n").ToString();
    }

    public static unsafe void WriteSync(int fd, int data, string? message)
    {
        if (fd < 0) return;
        byte[] b = Encoding.UTF8.GetBytes(SyncMessage(data, message));
        fixed (byte* p = b)
            while (Libc.write(fd, p, (nuint)b.Length) < 0 && Errno.Last == Errno.EINTR) { }
    }

    public void OnSignal(int signo)
    {
        if (signo == Libc.SIGCHLD) _reaper.ReapOrphans();
        else if (signo is Libc.SIGTERM or Libc.SIGINT or Libc.SIGQUIT) Forward(signo);
        else Log.Debug($"signal {signo} ignored");
    }

    /// <summary>conmon forwards SIGTERM/SIGINT/SIGQUIT to the container, or to the runtime while it creates it; the monitor itself stays until the container has exited.</summary>
    void Forward(int signo)
    {
        if (_container is { State: ContainerState.Running }) _container.Kill(signo);
        else if (_create is { RuntimePid: > 0 and var pid }) Libc.kill(pid, signo);
        else Log.Debug($"signal {signo}: no container or runtime to forward it to");
    }

    sealed class CtlSink(ConmonMonitor m, bool winsz) : IOutputSink
    {
        readonly StringBuilder _pending = new();

        public void OnOutput(Pipe pipe, ReadOnlySpan<byte> data)
        {
            _pending.Append(Encoding.ASCII.GetString(data));
            string s = _pending.ToString();
            int nl;
            while ((nl = s.IndexOf('\n')) >= 0)
            {
                m.Control(s[..nl].Trim(), winsz);
                s = s[(nl + 1)..];
            }
            _pending.Clear().Append(s.Length > 1024 ? "" : s);
        }
    }
}
