using System.Runtime.InteropServices;

namespace Podmon.Sys;

/// <summary>Mounts, namespaces, terminals.</summary>
public static unsafe partial class Libc
{
    public const nuint MS_RDONLY = 1, MS_BIND = 4096, MS_REC = 16384, MS_PRIVATE = 1 << 18;
    public const int MNT_DETACH = 2;
    public const int CLONE_NEWNS = 0x00020000, CLONE_NEWUTS = 0x04000000, CLONE_NEWIPC = 0x08000000,
        CLONE_NEWUSER = 0x10000000, CLONE_NEWPID = 0x20000000, CLONE_NEWNET = 0x40000000;
    public const nuint TIOCGWINSZ = 0x5413, TIOCSWINSZ = 0x5414, TIOCSCTTY = 0x540E;

    [StructLayout(LayoutKind.Sequential)]
    public struct WinSize
    {
        public ushort Rows;
        public ushort Cols;
        public ushort XPixel;
        public ushort YPixel;
    }

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mount(string? source, string target, string? fstype, nuint flags, void* data);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int umount2(string target, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int unshare(int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int setns(int fd, int nstype);

    public static void SetWindowSize(int fd, ushort cols, ushort rows)
    {
        WinSize ws = new() { Rows = rows, Cols = cols };
        Errno.Check(ioctl(fd, TIOCSWINSZ, &ws), "ioctl(TIOCSWINSZ)");
    }

    public static WinSize GetWindowSize(int fd)
    {
        WinSize ws;
        Errno.Check(ioctl(fd, TIOCGWINSZ, &ws), "ioctl(TIOCGWINSZ)");
        return ws;
    }
}
