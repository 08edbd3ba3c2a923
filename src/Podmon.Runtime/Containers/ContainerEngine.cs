using Podmon.Diagnostics;
using Podmon.Loop;
using Podmon.Sys;
using Podmon.Tracing;

namespace Podmon.Containers;

/// <summary>
/// The pod's containers on the one event loop: the internal API the RPC methods call with plain
/// values. Long operations (create, exec-sync) complete through a callback on the loop thread,
/// possibly before the call returns (immediate errors); the others answer synchronously and throw
/// <see cref="ContainerException"/> with a message for the client.
/// </summary>
public sealed class ContainerEngine : IDisposable
{
    readonly Dictionary<string, Container> _containers = new(StringComparer.Ordinal);
    readonly HashSet<string> _reserved = new(StringComparer.Ordinal);

    // What the host hands the engine; its own operations (Container, CreateOperation, ExecSyncOperation,
    // DetachedExec) use them, nothing outside this folder does.
    internal EventLoop Loop { get; }
    internal ChildReaper Reaper { get; }
    internal EngineOptions Options { get; }
    internal LazyPodWatchdog Watchdog { get; }
    /// <summary>Null while tracing is off: then no span is made anywhere in the engine.</summary>
    internal Tracer? Tracer { get; }

    /// <summary>A container exited; its exit files are written.</summary>
    public event Action<Container>? ContainerExited;

    public ContainerEngine(EventLoop loop, ChildReaper reaper, EngineOptions options, LazyPodWatchdog watchdog, Tracer? tracer = null)
    {
        Tracer = tracer;
        Loop = loop;
        Reaper = reaper;
        Options = options;
        Watchdog = watchdog;
    }

    public int Count => _containers.Count;
    public int ExecsInFlight { get; private set; }
    /// <summary>exec-sync processes the runtime has started and podmon now watches.</summary>
    public int ExecProcessesRunning { get; internal set; }
    public IEnumerable<Container> Containers => _containers.Values;

    public Container? Find(string id) => _containers.GetValueOrDefault(id);

    /// <summary>Creates a container; <paramref name="done"/> gets its pid or an error (with the runtime's stderr).</summary>
    public CreateOperation Create(CreateRequest request, Action<CreateResult> done)
    {
        var op = new CreateOperation(this, request, done);
        op.Start();
        return op;
    }

    /// <summary>Runs a command in a running container and collects its output; see <see cref="ExecSyncResult"/>.</summary>
    public void ExecSync(ExecSyncRequest request, Action<ExecSyncResult> done) => new ExecSyncOperation(this, request, done).Start();

    /// <summary>Serves conmon's attach protocol on a SOCK_SEQPACKET socket at <paramref name="socketPath"/>.</summary>
    public void Attach(string id, string socketPath, bool stopAfterStdinEof)
    {
        Container c = Get(id);
        try { c.Io.Attach.Listen(socketPath, stopAfterStdinEof); }
        catch (Exception e) when (e is SyscallException or IOException)
        {
            throw new ContainerException($"attach to container {id} at {socketPath}: {ErrorText.Describe(e)}", e);
        }
    }

    /// <summary>Reopens the container's log files by path (after a rename by log rotation).</summary>
    public void ReopenLogs(string id, in SpanContext trace = default)
    {
        Span? span = Tracer?.StartSpan("reopen_log", trace);
        span?.SetAttribute("container_id", id);
        try
        {
            Container c = Get(id);
            c.Log.Reopen();
        }
        catch (ContainerException e)
        {
            span?.SetError(e.Message);
            throw;
        }
        catch (Exception e) when (e is SyscallException or IOException)
        {
            string error = $"reopen logs of container {id}: {ErrorText.Describe(e)}";
            span?.SetError(error);
            throw new ContainerException(error, e);
        }
        finally
        {
            span?.End();
        }
    }

    public void SetWindowSize(string id, ushort width, ushort height) => Get(id).Resize(width, height);

    /// <summary>Signals every container (shutdown: SIGKILL); exits are then handled as usual.</summary>
    public void KillAll(int signal = Libc.SIGKILL)
    {
        foreach (Container c in _containers.Values) c.Kill(signal);
    }

    /// <summary>Server shutdown: SIGKILL every container; the watchdog is expected to go too.</summary>
    public void Shutdown()
    {
        Watchdog.Stopping();
        KillAll(Libc.SIGKILL);
    }

    Container Get(string id) =>
        _containers.TryGetValue(id, out Container? c) ? c : throw new ContainerException($"container {id} not found");

    internal bool Reserve(string id) => !_containers.ContainsKey(id) && _reserved.Add(id);

    internal void Unreserve(string id) => _reserved.Remove(id);

    internal void Register(Container c)
    {
        _reserved.Remove(c.Id);
        _containers.Add(c.Id, c);
    }

    internal void Forget(Container c)
    {
        _containers.Remove(c.Id);
        ContainerExited?.Invoke(c);
    }

    internal void ExecStarted() => ExecsInFlight++;

    internal void ExecFinished() => ExecsInFlight--;

    /// <summary>Closes every container's fds (the host closes the watchdog first, which then kills what is left).</summary>
    public void Dispose()
    {
        foreach (Container c in _containers.Values.ToArray()) c.Close();
        _containers.Clear();
    }
}
