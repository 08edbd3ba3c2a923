using System.Runtime.InteropServices;

namespace Podmon.Sys;

/// <summary>termios: the output flags podmon sets on a container's pty master.</summary>
public static unsafe partial class Libc
{
    public const uint ONLCR = 0x4;
    public const int TCSANOW = 0;
    const int TermiosSize = 60, TermiosOflagOffset = 4;

    [LibraryImport(Lib)]
    public static partial int isatty(int fd);

    [LibraryImport(Lib, SetLastError = true)]
    private static partial int tcgetattr(int fd, byte* termios);

    [LibraryImport(Lib, SetLastError = true)]
    private static partial int tcsetattr(int fd, int action, byte* termios);

    /// <summary>Sets output flags (c_oflag |= <paramref name="flags"/>) on a terminal.</summary>
    public static void AddOutputFlags(int fd, uint flags)
    {
        byte* t = stackalloc byte[TermiosSize + 4];
        Errno.Check(tcgetattr(fd, t), "tcgetattr");
        *(uint*)(t + TermiosOflagOffset) |= flags;
        Errno.Check(tcsetattr(fd, TCSANOW, t), "tcsetattr");
    }
}
