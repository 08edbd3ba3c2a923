using Podmon.Diagnostics;
using Podmon.Loop;
using Podmon.Sys;

namespace Podmon.Containers;

/// <summary>
/// Runs a container's cleanupCmd (conmon: exit command) after it exited: spawned, watched on the
/// loop, never blocking it. <paramref name="done"/> (optional) gets its exit status, or -1 when it
/// could not be started (conmon mode waits for it before exiting).
/// </summary>
public sealed class CleanupCommand(string id, Action<int>? done) : IChildExitHandler
{
    public static void Run(string id, IReadOnlyList<string> argv, ChildReaper reaper, Action<int>? done = null)
    {
        if (argv.Count == 0)
        {
            done?.Invoke(0);
            return;
        }
        try
        {
            string path = ResolveExecutable(argv[0]);
            var req = new SpawnRequest { Path = path, Argv = argv };
            req.Fds.AddRange([(0, -1), (1, -1), (2, -1)]);
            SpawnedProcess p = Spawner.Spawn(req);
            if (p.Pidfd is not null) reaper.Watch(p.Pid, p.Pidfd, new CleanupCommand(id, done));
            else done?.Invoke(0);
        }
        catch (Exception e) when (e is SyscallException or IOException)
        {
            Log.Error($"container {id}: cleanup command {argv[0]} failed to start: {ErrorText.Describe(e)}");
            done?.Invoke(-1);
        }
    }

    public void OnChildExit(int pid, int exitCode)
    {
        if (exitCode != 0) Log.Error($"container {id}: cleanup command exited with {exitCode}");
        done?.Invoke(exitCode);
    }

    /// <summary>An absolute path as is, otherwise the first match on PATH (execve does no search).</summary>
    public static string ResolveExecutable(string name)
    {
        if (name.Contains('/')) return name;
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").Split(':'))
        {
            string candidate = Path.Combine(dir.Length == 0 ? "." : dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        throw new IOException($"'{name}' not found on PATH");
    }
}
