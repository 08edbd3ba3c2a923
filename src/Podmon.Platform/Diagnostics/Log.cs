using System.Text;
using Podmon.Sys;

namespace Podmon.Diagnostics;

/// <summary>
/// The server's own log (not container logs): stdout, the journal, or nowhere. Written with
/// write(2)/send(2) directly: System.Console would add a signal-handling thread.
/// </summary>
public static class Log
{
    static LogLevel s_level = LogLevel.Info;
    static ILogSink s_sink = NullSink.Instance;

    public static void Configure(LogDriverKind driver, LogLevel level)
    {
        s_level = level;
        s_sink = driver switch
        {
            LogDriverKind.Stdout => new FdSink(1),
            LogDriverKind.Systemd => JournalSink.TryOpen() ?? (ILogSink)NullSink.Instance,
            _ => NullSink.Instance,
        };
    }

    public static bool IsEnabled(LogLevel level) => level >= s_level && s_level != LogLevel.Off;

    public static void Write(LogLevel level, string message)
    {
        if (IsEnabled(level)) s_sink.Write(level, message);
    }

    public static void Trace(string message) => Write(LogLevel.Trace, message);
    public static void Debug(string message) => Write(LogLevel.Debug, message);
    public static void Info(string message) => Write(LogLevel.Info, message);
    public static void Warn(string message) => Write(LogLevel.Warn, message);
    public static void Error(string message) => Write(LogLevel.Error, message);

    /// <summary>Writes one line to stderr (fd 2), ignoring failures.</summary>
    public static void Stderr(string line) => FdSink.WriteLine(2, line);

    public static void Stdout(string text) => FdSink.WriteText(1, text);
}

interface ILogSink
{
    void Write(LogLevel level, string message);
}

sealed class NullSink : ILogSink
{
    public static readonly NullSink Instance = new();
    public void Write(LogLevel level, string message) { }
}

sealed class FdSink(int fd) : ILogSink
{
    public void Write(LogLevel level, string message) =>
        WriteLine(fd, $"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.ffffffZ} {LevelName(level)} podmon: {message}");

    static string LevelName(LogLevel l) => l switch
    {
        LogLevel.Trace => "TRACE", LogLevel.Debug => "DEBUG", LogLevel.Info => "INFO",
        LogLevel.Warn => "WARN", _ => "ERROR",
    };

    public static void WriteLine(int fd, string line) => WriteText(fd, line + "\n");

    public static void WriteText(int fd, string text)
    {
        try { Libc.WriteAll(fd, Encoding.UTF8.GetBytes(text)); }
        catch (SyscallException) { }
    }
}

/// <summary>The monitor's own entries in the journal: PRIORITY, SYSLOG_IDENTIFIER=podmon, MESSAGE.</summary>
sealed class JournalSink(JournalSocket journal) : ILogSink
{
    public static JournalSink? TryOpen()
    {
        try { return new JournalSink(JournalSocket.Open()); }
        catch (Exception e) when (e is IOException or SyscallException) { return null; }
    }

    public void Write(LogLevel level, string message)
    {
        ReadOnlySpan<byte> fields = level switch
        {
            LogLevel.Trace or LogLevel.Debug => "PRIORITY=7\nSYSLOG_IDENTIFIER=podmon\n"u8,
            LogLevel.Info => "PRIORITY=6\nSYSLOG_IDENTIFIER=podmon\n"u8,
            LogLevel.Warn => "PRIORITY=4\nSYSLOG_IDENTIFIER=podmon\n"u8,
            _ => "PRIORITY=3\nSYSLOG_IDENTIFIER=podmon\n"u8,
        };
        journal.Send(fields, Encoding.UTF8.GetBytes(message), default, wait: false);
    }
}
