using System.Globalization;
using Podmon.Sys;

namespace Podmon.Containers;

/// <summary>The runtime's --pid-file: cleared before the runtime runs, read after it returned.</summary>
static class Pidfile
{
    /// <summary>Removes a stale pidfile; a missing file (or directory: the runtime will say so) is fine.</summary>
    public static void Clear(string path)
    {
        if (Libc.unlink(path) < 0 && Errno.Last is not (Errno.ENOENT or Errno.ENOTDIR))
            throw new SyscallException("remove pidfile", Errno.Last, $"'{path}'");
    }

    public static unsafe int Read(string path)
    {
        using var fd = OwnedFd.Check(Libc.open(path, Libc.O_RDONLY | Libc.O_CLOEXEC, 0), "open pidfile", $"'{path}'");
        Span<byte> buf = stackalloc byte[32];
        int n = 0;
        while (n < buf.Length)
        {
            nint r = Libc.Read(fd.Value, buf[n..]);
            if (r < 0) throw new SyscallException("read pidfile", Errno.Last, $"'{path}'");
            if (r == 0) break;
            n += (int)r;
        }
        string text = System.Text.Encoding.ASCII.GetString(buf[..n]).Trim();
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || pid <= 0)
            throw new IOException($"pidfile '{path}' holds no pid: '{text}'");
        return pid;
    }
}
