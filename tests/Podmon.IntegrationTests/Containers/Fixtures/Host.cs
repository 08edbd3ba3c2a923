using System.Text;
using Podmon.Sys;

namespace Podmon.IntegrationTests.Containers.Fixtures;

/// <summary>Runs helper commands (runc delete, …) synchronously, off any loop.</summary>
static unsafe class Host
{
    public static (int Code, string Output) Run(string path, params string[] args)
    {
        OwnedFd[] p = Libc.Pipe();
        var req = new SpawnRequest { Path = path, Argv = [path, .. args] };
        req.Fds.AddRange([(0, -1), (1, p[1].Value), (2, p[1].Value)]);
        SpawnedProcess proc;
        try { proc = Spawner.Spawn(req); }
        finally { p[1].Dispose(); }
        var output = new MemoryStream();
        byte[] buf = new byte[4096];
        fixed (byte* b = buf)
        {
            nint n;
            while ((n = Libc.read(p[0].Value, b, 4096)) > 0) output.Write(buf, 0, (int)n);
        }
        p[0].Dispose();
        Libc.SigInfo info = default;
        while (Libc.waitid(Libc.P_PIDFD, proc.Pidfd!.Value, &info, Libc.WEXITED) < 0 && Errno.Last == Errno.EINTR) { }
        proc.Pidfd.Dispose();
        return (Libc.ExitCode(info), Encoding.UTF8.GetString(output.ToArray()));
    }

    public static string Check(string path, params string[] args)
    {
        var (code, output) = Run(path, args);
        if (code != 0) throw new InvalidOperationException($"{path} {string.Join(' ', args)}: exit {code}: {output}");
        return output;
    }

    /// <summary>Whether a pid is alive (not a zombie).</summary>
    public static bool IsAlive(int pid) => PodmonProcess.IsAlive(pid);
}
