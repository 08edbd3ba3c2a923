using Podmon.Diagnostics;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Containers;

/// <summary>
/// Watches a container's memory cgroup for OOM kills and then writes its oomExitPaths as empty
/// files, like conmon-rs (once). cgroup v1: an eventfd registered through cgroup.event_control on
/// memory.oom_control. cgroup v2: inotify on memory.events, comparing the oom/oom_kill counters
/// with their values when watching began. <see cref="CheckNow"/> runs at container exit, so an OOM
/// whose notification is still queued is not missed.
/// </summary>
public sealed unsafe class OomWatcher : IEventHandler, IDisposable
{
    readonly EventLoop _loop;
    readonly IReadOnlyList<string> _paths;
    readonly OwnedFd _fd; // v1: the eventfd; v2: the inotify fd
    readonly OwnedFd? _oomControl;
    readonly string _countersFile;
    readonly bool _v2;
    readonly ulong _baseline;
    Registration _reg;

    public bool Fired { get; private set; }

    OomWatcher(EventLoop loop, IReadOnlyList<string> paths, OwnedFd fd, OwnedFd? oomControl, string countersFile, bool v2)
    {
        _loop = loop;
        _paths = paths;
        _fd = fd;
        _oomControl = oomControl;
        _countersFile = countersFile;
        _v2 = v2;
        _baseline = ReadCount();
        _reg = loop.Add(fd.Value, Libc.EPOLLIN, this);
    }

    /// <summary>Starts watching <paramref name="pid"/>'s memory cgroup; null (and a log line) when it cannot be found.</summary>
    public static OomWatcher? Start(EventLoop loop, int pid, IReadOnlyList<string> oomExitPaths)
    {
        if (oomExitPaths.Count == 0) return null;
        string procCgroup;
        try { procCgroup = File.ReadAllText($"/proc/{pid}/cgroup"); }
        catch (IOException e)
        {
            Log.Debug($"OOM watcher: pid {pid} is gone: {ErrorText.Describe(e)}");
            return null;
        }
        try
        {
            return CgroupInfo.IsV2() ? StartV2(loop, procCgroup, oomExitPaths) : StartV1(loop, procCgroup, oomExitPaths);
        }
        catch (Exception e) when (e is IOException or SyscallException or UnauthorizedAccessException)
        {
            Log.Error($"OOM watcher for pid {pid}: {ErrorText.Describe(e)}");
            return null;
        }
    }

    static OomWatcher? StartV1(EventLoop loop, string procCgroup, IReadOnlyList<string> paths)
    {
        string? dir = CgroupInfo.V1Path(procCgroup, "memory");
        if (dir is null) return null;
        string control = dir + "/memory.oom_control";
        var oomControl = OwnedFd.Check(Libc.open(control, Libc.O_RDONLY | Libc.O_CLOEXEC, 0), "open", control);
        var efd = OwnedFd.Check(Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK), "eventfd");
        try
        {
            string eventControl = dir + "/cgroup.event_control";
            using var ec = OwnedFd.Check(Libc.open(eventControl, Libc.O_WRONLY | Libc.O_CLOEXEC, 0), "open", eventControl);
            Libc.WriteAll(ec.Value, System.Text.Encoding.ASCII.GetBytes($"{efd.Value} {oomControl.Value}"));
            return new OomWatcher(loop, paths, efd, oomControl, control, v2: false);
        }
        catch
        {
            efd.Dispose();
            oomControl.Dispose();
            throw;
        }
    }

    static OomWatcher? StartV2(EventLoop loop, string procCgroup, IReadOnlyList<string> paths)
    {
        string? dir = CgroupInfo.V2Path(procCgroup);
        if (dir is null) return null;
        string events = dir + "/memory.events";
        var ifd = OwnedFd.Check(Libc.inotify_init1(Libc.IN_CLOEXEC | Libc.IN_NONBLOCK), "inotify_init1");
        try
        {
            Errno.Check(Libc.inotify_add_watch(ifd.Value, events, Libc.IN_MODIFY), "inotify_add_watch", events);
            return new OomWatcher(loop, paths, ifd, null, events, v2: true);
        }
        catch
        {
            ifd.Dispose();
            throw;
        }
    }

    ulong ReadCount()
    {
        try
        {
            string text = File.ReadAllText(_countersFile);
            return _v2 ? CgroupInfo.V2OomCount(text) : CgroupInfo.Counter(text, "oom_kill");
        }
        catch (IOException) { return 0; }
    }

    public void OnEvents(uint events)
    {
        byte* buf = stackalloc byte[4096];
        while (Libc.read(_fd.Value, buf, 4096) > 0) { }
        if (_v2)
        {
            if (ReadCount() > _baseline) Fire();
        }
        else if (ReadCount() > _baseline || UnderOom())
        {
            // v1 also signals the eventfd when the cgroup goes away: only a counted OOM counts.
            Fire();
        }
    }

    bool UnderOom()
    {
        try { return CgroupInfo.Counter(File.ReadAllText(_countersFile), "under_oom") > 0; }
        catch (IOException) { return false; }
    }

    /// <summary>At container exit: takes a notification that is still queued, and the counters.</summary>
    public void CheckNow()
    {
        if (!Fired && ReadCount() > _baseline) Fire();
    }

    void Fire()
    {
        if (Fired) return;
        Fired = true;
        foreach (string path in _paths)
        {
            int fd = Libc.open(path, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_TRUNC | Libc.O_CLOEXEC, 0b110_100_100);
            if (fd < 0) Log.Error($"could not write OOM file {path}: {Errno.Describe(Errno.Last)}");
            else Libc.close(fd);
        }
    }

    public void Dispose()
    {
        if (_fd.IsClosed) return;
        _loop.Remove(_reg);
        _fd.Dispose();
        _oomControl?.Dispose();
    }
}
