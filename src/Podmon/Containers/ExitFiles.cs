using System.Globalization;
using System.Text;
using Podmon.Diagnostics;
using Podmon.Sys;

namespace Podmon.Containers;

/// <summary>
/// Exit files: the code as decimal text (conmon style), written to a temp file in the same
/// directory, fsynced, then renamed over the path, so a reader sees all of it or nothing.
/// </summary>
public static class ExitFiles
{
    /// <summary>Writes every path; failures are logged and the other paths still written. Returns false if any failed.</summary>
    public static bool WriteAll(IReadOnlyList<string> paths, int exitCode)
    {
        byte[] text = Encoding.ASCII.GetBytes(exitCode.ToString(CultureInfo.InvariantCulture));
        bool ok = true;
        foreach (string path in paths)
        {
            try { WriteAtomically(path, text); }
            catch (Exception e) when (e is SyscallException or IOException)
            {
                Log.Error($"could not write exit file {path}: {e.Message}");
                ok = false;
            }
        }
        return ok;
    }

    public static void WriteAtomically(string path, ReadOnlySpan<byte> content)
    {
        string dir = Path.GetDirectoryName(path) is { Length: > 0 } d ? d : ".";
        string tmp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Libc.getpid()}.tmp");
        using (var fd = OwnedFd.Check(Libc.open(tmp, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_TRUNC | Libc.O_CLOEXEC, 0b110_100_100), "open", tmp))
        {
            Libc.WriteAll(fd.Value, content);
            Errno.Check(Libc.fsync(fd.Value), "fsync", tmp);
        }
        if (Libc.rename(tmp, path) < 0)
        {
            int e = Errno.Last;
            Libc.unlink(tmp);
            throw new SyscallException("rename", e, $"{tmp} -> {path}");
        }
    }
}
