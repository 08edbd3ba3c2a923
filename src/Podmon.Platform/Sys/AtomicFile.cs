namespace Podmon.Sys;

/// <summary>Writes a small file so that a reader sees all of it or nothing: temp file in the same directory, then rename.</summary>
public static class AtomicFile
{
    public static void Write(string path, ReadOnlySpan<byte> content, bool fsync)
    {
        string dir = Path.GetDirectoryName(path) is { Length: > 0 } d ? d : ".";
        string tmp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Libc.getpid()}.tmp");
        using (var fd = OwnedFd.Check(Libc.open(tmp, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_TRUNC | Libc.O_CLOEXEC, 0b110_100_100), "open", tmp))
        {
            Libc.WriteAll(fd.Value, content);
            if (fsync) Errno.Check(Libc.fsync(fd.Value), "fsync", tmp);
        }
        if (Libc.rename(tmp, path) < 0)
        {
            int e = Errno.Last;
            Libc.unlink(tmp);
            throw new SyscallException("rename", e, $"{tmp} -> {path}");
        }
    }
}
