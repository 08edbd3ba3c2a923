using Podmon.Diagnostics;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Containers;

/// <summary>
/// How containers die when podmon is SIGKILLed. runc resets PR_SET_PDEATHSIG in the container,
/// the container has its own pid namespace, and once runc exits the container init is podmon's
/// child (subreaper): nothing in the kernel kills it when podmon dies. So podmon starts one
/// watchdog process per pod (native/watchdog.c, `podmon --pod-watchdog`, no .NET runtime) joined
/// by a socketpair, and sends it a pidfd of every container init and exec'd process. When podmon
/// dies for any reason the kernel closes podmon's end; the watchdog reads EOF and SIGKILLs every
/// process it still holds (pidfds: a reused pid is never hit), then exits. Killing the init of
/// a container's pid namespace takes all its processes with it. Exit files are not written then:
/// nobody is left to reap the containers.
/// A container exists before its pid is known (the runtime makes it, podmon reads the pidfile
/// after the runtime exits), so each create is announced before the runtime starts
/// (<see cref="BeginCreate"/>) and ended once its container is registered or the create failed;
/// the watchdog undoes the creates still pending when podmon dies (see native/watchdog.c).
/// </summary>
public sealed class PodWatchdog : IChildExitHandler, IDisposable
{
    const int MaxMessage = 16384; // the watchdog's receive buffer

    readonly OwnedFd _socket;
    readonly int _pid;
    uint _lastToken;

    PodWatchdog(OwnedFd socket, int pid)
    {
        _socket = socket;
        _pid = pid;
    }

    public bool IsAlive { get; private set; } = true;

    /// <summary>Set on server shutdown: the watchdog's exit is then expected.</summary>
    public bool Stopping { get; set; }
    public int Pid => _pid;
    internal int SocketFd => _socket.Value;

    public static unsafe PodWatchdog Start(string path, IReadOnlyList<string> argv, ChildReaper reaper)
    {
        int* sv = stackalloc int[2];
        Errno.Check(Libc.socketpair(Libc.AF_UNIX, Libc.SOCK_SEQPACKET | Libc.SOCK_CLOEXEC, 0, sv), "socketpair");
        var ours = new OwnedFd(sv[0]);
        using var theirs = new OwnedFd(sv[1]);
        try
        {
            var req = new SpawnRequest { Path = path, Argv = argv };
            req.Fds.AddRange([(0, -1), (1, -1), (2, -1), (3, theirs.Value)]);
            SpawnedProcess p = Spawner.Spawn(req);
            Libc.SetNonBlocking(ours.Value);
            var dog = new PodWatchdog(ours, p.Pid);
            if (p.Pidfd is not null) reaper.Watch(p.Pid, p.Pidfd, dog);
            return dog;
        }
        catch
        {
            ours.Dispose();
            throw;
        }
    }

    /// <summary>Hands the watchdog a pidfd (it gets its own copy) of a process to kill if podmon dies.</summary>
    public void Register(int pidfd)
    {
        if (!IsAlive) return;
        try { UnixSocket.SendWithFds(_socket.Value, "A"u8, [pidfd]); }
        catch (SyscallException e) { Log.Error($"pod watchdog: could not register a process: {e.Message}"); }
    }

    /// <summary>
    /// Hands the watchdog the pod's pause process and where its namespaces are pinned: if podmon
    /// dies, the watchdog SIGKILLs the pause and unmounts and removes the pins (native/pause.c).
    /// </summary>
    public void RegisterPause(int pidfd, string basePath, string podId)
    {
        if (!IsAlive) return;
        var msg = new List<byte>(128) { (byte)'P' };
        AddString(msg, basePath);
        AddString(msg, podId);
        try { UnixSocket.SendWithFds(_socket.Value, msg.ToArray(), [pidfd]); }
        catch (SyscallException e) { Log.Error($"pod watchdog: could not register the pause process: {e.Message}"); }
    }

    /// <summary>Podmon has removed the pause's pins itself: the watchdog forgets them.</summary>
    public void ForgetPause()
    {
        if (!IsAlive) return;
        try { SendMessage("p"u8); }
        catch (SyscallException e) { Log.Error($"pod watchdog: could not release the pause process: {e.Message}"); }
    }

    /// <summary>
    /// Announces a create (its container id and the runtime's path and global flags) before the
    /// runtime starts; the runtime is spawned with <see cref="PendingCreate.Handoff"/> so the
    /// watchdog holds its pidfd before it execs. Null when the watchdog cannot be told: the caller
    /// then keeps PR_SET_PDEATHSIG on the runtime (today's best effort).
    /// </summary>
    public PendingCreate? BeginCreate(string id, IReadOnlyList<string> runtimeGlobalArgv)
    {
        if (!IsAlive) return null;
        uint token = ++_lastToken;
        var msg = new List<byte>(256) { (byte)'C' };
        msg.AddRange(BitConverter.GetBytes(token));
        AddString(msg, id);
        int idOnly = msg.Count;
        foreach (string a in runtimeGlobalArgv) AddString(msg, a);
        if (msg.Count > MaxMessage)
        {
            Log.Warn($"pod watchdog: the runtime's command line for {id} is too long to hand over; only its exec fifo is watched");
            msg.RemoveRange(idOnly, msg.Count - idOnly);
        }
        try { SendMessage(msg.ToArray()); }
        catch (SyscallException e)
        {
            Log.Error($"pod watchdog: could not announce the create of {id}: {e.Message}");
            return null;
        }
        return new PendingCreate(this, token);
    }

    unsafe void SendMessage(ReadOnlySpan<byte> m)
    {
        fixed (byte* p = m) Errno.Check((long)Libc.send(_socket.Value, p, (nuint)m.Length, Libc.MSG_NOSIGNAL), "send");
    }

    static void AddString(List<byte> msg, string s)
    {
        msg.AddRange(System.Text.Encoding.UTF8.GetBytes(s));
        msg.Add(0);
    }

    void EndCreate(uint token)
    {
        if (!IsAlive) return;
        Span<byte> m = stackalloc byte[5];
        m[0] = (byte)'D';
        BitConverter.TryWriteBytes(m[1..], token);
        try { SendMessage(m); }
        catch (SyscallException e) { Log.Error($"pod watchdog: could not end a create: {e.Message}"); }
    }

    /// <summary>A create the watchdog undoes if podmon dies before <see cref="End"/>.</summary>
    public sealed class PendingCreate(PodWatchdog dog, uint token)
    {
        bool _ended;

        /// <summary>For <see cref="SpawnRequest.Handoff"/>: the runtime's pidfd goes to the watchdog before it execs.</summary>
        public (int Socket, byte[] Message) Handoff
        {
            get
            {
                var m = new byte[5];
                m[0] = (byte)'R';
                BitConverter.TryWriteBytes(m.AsSpan(1), token);
                return (dog._socket.Value, m);
            }
        }

        /// <summary>The create is over: its container (if any) is registered, or nothing is left of it.</summary>
        public void End()
        {
            if (_ended) return;
            _ended = true;
            dog.EndCreate(token);
        }
    }

    public void OnChildExit(int pid, int exitCode)
    {
        IsAlive = false;
        if (!Stopping) Log.Error($"pod watchdog (pid {pid}) exited with {exitCode}: containers will not be killed if podmon dies");
    }

    /// <summary>Closes podmon's end: the watchdog kills what it still holds and exits.</summary>
    public void Dispose() => _socket.Dispose();
}
