using System.Runtime.InteropServices;

namespace Podmon.Sys;

/// <summary>Wall-clock time and the local time zone offset.</summary>
public static unsafe partial class Libc
{
    /// <summary>struct tm (x86-64 glibc): the fields podmon reads.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 56)]
    public struct Tm
    {
        [FieldOffset(0)] public int Sec;
        [FieldOffset(4)] public int Min;
        [FieldOffset(8)] public int Hour;
        [FieldOffset(12)] public int MDay;
        [FieldOffset(16)] public int Mon;
        [FieldOffset(20)] public int Year;
        [FieldOffset(40)] public long GmtOff;
    }

    [LibraryImport(Lib)]
    public static partial Tm* localtime_r(long* time, Tm* result);

    public static Timespec RealtimeNow()
    {
        Timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return ts;
    }
}
