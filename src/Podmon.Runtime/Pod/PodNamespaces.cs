using Podmon.Containers;
using Podmon.Diagnostics;
using Podmon.Loop;
using Podmon.Sys;
using Podmon.Tracing;

namespace Podmon.Pod;

/// <summary>
/// The pod's pinned namespaces: one pause process per server, as in conmon-rs. The first
/// <see cref="Create"/> runs `podmon pause ...` (native/pause.c, no .NET runtime) and answers once
/// it has exited, through the loop's child-exit handling, so the loop never blocks on it; calls
/// made meanwhile wait for the same answer, and later calls get the first result. A failed
/// attempt leaves nothing behind (the pause cleans up) and the next call tries again.
/// The pause is handed to the pod watchdog, which unpins and kills it if podmon dies;
/// <see cref="Shutdown"/> does the same on an orderly stop.
/// </summary>
public sealed class PodNamespaces(ChildReaper reaper, LazyPodWatchdog watchdog, Tracer? tracer = null, string binary = "/proc/self/exe", string argv0 = "podmon")
{
    const int MaxErrorText = 4096;

    readonly ChildReaper _reaper = reaper;
    readonly LazyPodWatchdog _watchdog = watchdog;
    readonly string _binary = binary, _argv0 = argv0;

    Launch? _launch;
    NamespacesRequest? _request;
    OwnedFd? _pausePidfd;

    /// <summary>The pins, once a createNamespaces has succeeded.</summary>
    public PinnedNamespaces? Pinned { get; private set; }

    /// <summary><paramref name="done"/> gets the pins or an error text, possibly before this returns.</summary>
    public void Create(NamespacesRequest request, Action<PinnedNamespaces?, string?> done)
    {
        if (Pinned is not null) { done(Pinned, null); return; }
        if (_launch is not null) { _launch.Waiters.Add(done); return; }
        if (request.Validate() is { } error) { done(null, error); return; }
        var launch = new Launch(this, request, done, tracer?.StartSpan("pin_namespaces", request.Trace));
        launch.Span?.SetAttribute("pod_id", request.PodId);
        try { launch.Start(); }
        catch (SyscallException e)
        {
            launch.Span?.SetError(e.Message);
            launch.Span?.End();
            done(null, $"start the pause process: {e.Message}");
            return;
        }
        _launch = launch;
    }

    /// <summary>Server shutdown: the pins are unmounted and removed, the pause is killed.</summary>
    public void Shutdown()
    {
        if (_request is null) return;
        if (Native.PauseUnpin(_request.BasePath, _request.PodId) < 0)
            Log.Error($"remove the namespace pins of pod {_request.PodId} under {_request.BasePath}: {Errno.Describe(Errno.Last)}");
        else _watchdog.Current?.ForgetPause();
        if (_pausePidfd is not null) Native.PidfdSendSignal(_pausePidfd.Value, Libc.SIGKILL, 0);
        _request = null;
    }

    void Finish(Launch launch, PinnedNamespaces? pinned, string? error)
    {
        _launch = null;
        Pinned = pinned;
        if (error is not null) launch.Span?.SetError(error);
        if (pinned is not null) launch.Span?.SetAttribute("pause.pid", pinned.PausePid);
        launch.Span?.End();
        foreach (Action<PinnedNamespaces?, string?> w in launch.Waiters) w(pinned, error);
    }

    /// <summary>One run of `podmon pause`: its stderr is read when it exits.</summary>
    sealed class Launch(PodNamespaces owner, NamespacesRequest request, Action<PinnedNamespaces?, string?> first, Span? span) : IChildExitHandler
    {
        public readonly Span? Span = span;
        public readonly List<Action<PinnedNamespaces?, string?>> Waiters = [first];
        OwnedFd? _stderr;

        public void Start()
        {
            OwnedFd[] err = Libc.Pipe(Libc.O_CLOEXEC | Libc.O_NONBLOCK);
            _stderr = err[0];
            using OwnedFd write = err[1];
            // Killed with the server; the pause then exits before it is pinned for good (native/pause.c).
            var spawn = new SpawnRequest { Path = owner._binary, Argv = request.PauseArgv(owner._argv0), ParentDeathSignal = Libc.SIGKILL };
            spawn.Fds.AddRange([(0, -1), (1, -1), (2, write.Value)]);
            ChildReaper reaper = owner._reaper;
            SpawnedProcess p;
            try { p = Spawner.Spawn(spawn); }
            catch
            {
                _stderr.Dispose();
                throw;
            }
            if (p.Pidfd is null) throw new SyscallException("pidfd_open", Errno.ENOSYS, "the pause process");
            reaper.HoldOrphans(); // the pause becomes our orphan when `podmon pause` exits
            reaper.Watch(p.Pid, p.Pidfd, this);
        }

        public void OnChildExit(int pid, int exitCode)
        {
            string text = ReadStderr();
            ChildReaper reaper = owner._reaper;
            try
            {
                if (exitCode != 0)
                {
                    owner.Finish(this, null, text.Length > 0 ? text : $"the pause process exited with {exitCode}");
                    return;
                }
                if (!TryReadPid(out int pausePid, out string? error))
                {
                    Native.PauseUnpin(request.BasePath, request.PodId);
                    owner.Finish(this, null, error);
                    return;
                }
                OwnedFd? pidfd = reaper.Claim(pausePid, new PauseExit(request.PodId));
                if (pidfd is null)
                {
                    Native.PauseUnpin(request.BasePath, request.PodId);
                    owner.Finish(this, null, $"the pause process (pid {pausePid}) exited as soon as it started");
                    return;
                }
                owner._watchdog.Start()?.RegisterPause(pidfd.Value, request.BasePath, request.PodId);
                owner._pausePidfd = pidfd;
                owner._request = request;
                var paths = NamespaceKinds.All.Select(k => (k, request.PathOf(k))).ToArray();
                if (Log.IsEnabled(LogLevel.Info)) Log.Info($"pod {request.PodId}: namespaces pinned under {request.BasePath} by pause pid {pausePid}");
                owner.Finish(this, new PinnedNamespaces(pausePid, paths), null);
            }
            finally
            {
                reaper.ReleaseOrphans();
            }
        }

        bool TryReadPid(out int pid, out string? error)
        {
            pid = 0;
            error = null;
            string path = request.PidfilePath;
            try
            {
                if (int.TryParse(File.ReadAllText(path).Trim(), out pid) && pid > 0) return true;
                error = $"the pause pid file '{path}' holds no pid";
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                error = $"read the pause pid file '{path}': {ErrorText.Describe(e)}";
            }
            return false;
        }

        /// <summary>What the pause printed: "podmon: error: pause: X" becomes X.</summary>
        unsafe string ReadStderr()
        {
            if (_stderr is null) return "";
            var buf = new byte[MaxErrorText];
            int len = 0;
            fixed (byte* b = buf)
                while (len < buf.Length)
                {
                    nint n = Libc.read(_stderr.Value, b + len, (nuint)(buf.Length - len));
                    if (n <= 0) break;
                    len += (int)n;
                }
            _stderr.Dispose();
            _stderr = null;
            string text = System.Text.Encoding.UTF8.GetString(buf, 0, len).Trim();
            const string prefix = "podmon: error: pause: ";
            return text.StartsWith(prefix, StringComparison.Ordinal) ? text[prefix.Length..] : text;
        }
    }

    /// <summary>The pause died while the server runs: the pins stay until shutdown, but say so.</summary>
    sealed class PauseExit(string podId) : IChildExitHandler
    {
        public void OnChildExit(int pid, int exitCode) =>
            Log.Error($"pod {podId}: the pause process (pid {pid}) exited with {exitCode}; its namespaces stay pinned until podmon stops");
    }
}
