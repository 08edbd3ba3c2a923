using Podmon.Sys;

namespace Podmon.Logging;

/// <summary>
/// The time of one chunk of output, taken once per read: Unix seconds + nanoseconds, plus the
/// RFC 3339 local time with nanoseconds and offset that conmon and CRI-O write
/// ("2006-01-02T15:04:05.999999999+07:00"), formatted without allocating.
/// </summary>
public readonly struct LogTime
{
    public const int Rfc3339Length = 35;

    public readonly long UnixSeconds;
    public readonly int Nanoseconds;

    public LogTime(long unixSeconds, int nanoseconds)
    {
        UnixSeconds = unixSeconds;
        Nanoseconds = nanoseconds;
    }

    public static LogTime Now()
    {
        Libc.Timespec ts = Libc.RealtimeNow();
        return new LogTime(ts.Sec, (int)ts.Nsec);
    }

    /// <summary>Writes the 35-byte RFC 3339 local timestamp; returns its length.</summary>
    public int FormatRfc3339(Span<byte> dest) => LocalTimeCache.Format(UnixSeconds, Nanoseconds, dest);
}

/// <summary>localtime_r once per second per thread; the rest of the second only formats nanos.</summary>
static unsafe class LocalTimeCache
{
    [ThreadStatic] static long t_second;
    [ThreadStatic] static byte[]? t_prefix; // "YYYY-MM-DDTHH:MM:SS" + "+HH:MM"

    public static int Format(long sec, int nsec, Span<byte> dest)
    {
        byte[] p = t_prefix ??= new byte[25];
        if (t_second != sec || p[0] == 0)
        {
            Fill(sec, p);
            t_second = sec;
        }
        p.AsSpan(0, 19).CopyTo(dest);
        dest[19] = (byte)'.';
        Digits(dest.Slice(20, 9), nsec);
        p.AsSpan(19, 6).CopyTo(dest[29..]);
        return LogTime.Rfc3339Length;
    }

    static void Fill(long sec, byte[] p)
    {
        Libc.Tm tm;
        if (Libc.localtime_r(&sec, &tm) == null) tm = default;
        var s = p.AsSpan();
        Digits(s[..4], tm.Year + 1900);
        s[4] = (byte)'-';
        Digits(s.Slice(5, 2), tm.Mon + 1);
        s[7] = (byte)'-';
        Digits(s.Slice(8, 2), tm.MDay);
        s[10] = (byte)'T';
        Digits(s.Slice(11, 2), tm.Hour);
        s[13] = (byte)':';
        Digits(s.Slice(14, 2), tm.Min);
        s[16] = (byte)':';
        Digits(s.Slice(17, 2), tm.Sec);
        long off = tm.GmtOff;
        s[19] = off < 0 ? (byte)'-' : (byte)'+';
        off = Math.Abs(off);
        Digits(s.Slice(20, 2), (int)(off / 3600));
        s[22] = (byte)':';
        Digits(s.Slice(23, 2), (int)(off % 3600 / 60));
    }

    /// <summary>Zero-padded decimal filling exactly <paramref name="dest"/>.</summary>
    public static void Digits(Span<byte> dest, int value)
    {
        for (int i = dest.Length - 1; i >= 0; i--)
        {
            dest[i] = (byte)('0' + value % 10);
            value /= 10;
        }
    }
}
