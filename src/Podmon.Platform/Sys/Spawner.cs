using System.Runtime.InteropServices;
using System.Text;

namespace Podmon.Sys;

/// <summary>A started child: its pid and a pidfd that becomes readable when it exits.</summary>
public sealed class SpawnedProcess(int pid, OwnedFd? pidfd)
{
    public int Pid { get; } = pid;
    public OwnedFd? Pidfd { get; } = pidfd;
}

/// <summary>Describes one child process; <see cref="Spawner.Spawn"/> forks and execs it in C.</summary>
public sealed class SpawnRequest
{
    public required string Path { get; init; }
    public required IReadOnlyList<string> Argv { get; init; }
    /// <summary>"K=V" entries; null inherits podmon's environment.</summary>
    public IReadOnlyList<string>? Environment { get; init; }
    public string? WorkingDirectory { get; init; }
    /// <summary>child fd → parent fd (-1 = /dev/null). Every other fd is closed in the child.</summary>
    public List<(int ChildFd, int ParentFd)> Fds { get; } = [];
    public bool NewSession { get; init; } = true;
    /// <summary>Signal the child gets when podmon dies (PR_SET_PDEATHSIG), 0 for none.</summary>
    public int ParentDeathSignal { get; init; }
    /// <summary>
    /// When set: the child's pidfd and these bytes are sent over this socket (SCM_RIGHTS) before the
    /// child may exec, and a child whose parent dies first never execs (the pod watchdog learns of
    /// the runtime before the runtime can make anything).
    /// </summary>
    public (int Socket, byte[] Message)? Handoff { get; init; }
}

public static unsafe class Spawner
{
    public static SpawnedProcess Spawn(SpawnRequest req)
    {
        // Everything the child reads lives in one native block, freed after fork returns.
        var strings = new List<string>(req.Argv.Count + (req.Environment?.Count ?? 0) + 2) { req.Path };
        strings.AddRange(req.Argv);
        if (req.Environment is not null) strings.AddRange(req.Environment);
        if (req.WorkingDirectory is not null) strings.Add(req.WorkingDirectory);

        nuint bytes = 0;
        foreach (string s in strings) bytes += (nuint)Encoding.UTF8.GetByteCount(s) + 1;
        int envCount = req.Environment?.Count ?? 0;
        nuint ptrs = (nuint)(req.Argv.Count + 1 + envCount + 1);
        nuint total = bytes + ptrs * (nuint)sizeof(nint) + (nuint)(req.Fds.Count * sizeof(Native.FdMap));
        byte* block = (byte*)NativeMemory.Alloc(total);
        try
        {
            byte** argv = (byte**)block;
            byte** envp = argv + req.Argv.Count + 1;
            Native.FdMap* fds = (Native.FdMap*)(envp + envCount + 1);
            byte* text = (byte*)(fds + req.Fds.Count);

            byte* Put(string s)
            {
                byte* start = text;
                int n = Encoding.UTF8.GetBytes(s, new Span<byte>(text, int.MaxValue));
                text[n] = 0;
                text += n + 1;
                return start;
            }

            Native.SpawnArgs args = default;
            args.Path = Put(req.Path);
            for (int i = 0; i < req.Argv.Count; i++) argv[i] = Put(req.Argv[i]);
            argv[req.Argv.Count] = null;
            args.Argv = argv;
            if (req.Environment is not null)
            {
                for (int i = 0; i < envCount; i++) envp[i] = Put(req.Environment[i]);
                envp[envCount] = null;
                args.Envp = envp;
            }
            if (req.WorkingDirectory is not null) args.Cwd = Put(req.WorkingDirectory);
            for (int i = 0; i < req.Fds.Count; i++)
                fds[i] = new Native.FdMap { ChildFd = req.Fds[i].ChildFd, ParentFd = req.Fds[i].ParentFd };
            args.Fds = fds;
            args.FdCount = req.Fds.Count;
            args.NewSession = req.NewSession ? 1 : 0;
            args.PdeathSignal = req.ParentDeathSignal;

            int pidfd, pid;
            byte* step;
            fixed (byte* handoff = req.Handoff?.Message)
            {
                if (req.Handoff is { } h)
                {
                    args.HandoffMsg = handoff;
                    args.HandoffLen = h.Message.Length;
                    args.HandoffFd = h.Socket;
                }
                pid = Native.Spawn(&args, &pidfd, &step);
            }
            if (pid < 0)
            {
                string call = Marshal.PtrToStringUTF8((nint)step) ?? "spawn";
                throw new SyscallException(call, Errno.Last, req.Path);
            }
            return new SpawnedProcess(pid, pidfd >= 0 ? new OwnedFd(pidfd) : null);
        }
        finally
        {
            NativeMemory.Free(block);
        }
    }
}
