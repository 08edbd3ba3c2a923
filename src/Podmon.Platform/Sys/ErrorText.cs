namespace Podmon.Sys;

/// <summary>
/// The text a user sees for an exception. podmon is built with UseSystemResourceKeys (the runtime's
/// message strings are trimmed away), so a runtime exception says "IO_PathNotFound_Path, /x/pidfile"
/// instead of a sentence; such a message is rewritten here into "'/x/pidfile': No such file or
/// directory (ENOENT)". podmon's own exceptions already read as sentences and pass through.
/// </summary>
public static class ErrorText
{
    public static string Describe(Exception e)
    {
        string message = e.Message;
        if (!IsResourceKey(message, out string key, out string? arg)) return message;
        int errno = e switch
        {
            FileNotFoundException or DirectoryNotFoundException => Errno.ENOENT,
            UnauthorizedAccessException => Errno.EACCES,
            PathTooLongException => Errno.ENAMETOOLONG,
            IOException { HResult: > 0 and < 4096 } io => io.HResult, // the runtime's raw errno (EEXIST, …)
            _ => 0,
        };
        string what = errno != 0 ? Errno.Describe(errno) : $"{Words(key)} ({e.GetType().Name})";
        return arg is null ? what : $"'{arg}': {what}";
    }

    /// <summary>"Key_Words_Name" or "Key_Words_Name, argument": a letter first, then letters, digits and at least one '_'.</summary>
    static bool IsResourceKey(string message, out string key, out string? arg)
    {
        int comma = message.IndexOf(", ", StringComparison.Ordinal);
        key = comma < 0 ? message : message[..comma];
        arg = comma < 0 ? null : message[(comma + 2)..];
        if (key.Length == 0 || !char.IsAsciiLetterUpper(key[0]) || !key.Contains('_')) return false;
        foreach (char c in key)
            if (!char.IsAsciiLetterOrDigit(c) && c != '_') return false;
        return true;
    }

    /// <summary>"IO_FileExists_Name" → "io file exists": the key's words when no errno says more (its last part names the argument).</summary>
    static string Words(string key)
    {
        string[] parts = key.Split('_');
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < Math.Max(1, parts.Length - 1); i++)
        {
            if (sb.Length > 0) sb.Append(' ');
            for (int j = 0; j < parts[i].Length; j++)
            {
                char c = parts[i][j];
                if (j > 0 && char.IsAsciiLetterUpper(c) && char.IsAsciiLetterLower(parts[i][j - 1])) sb.Append(' ');
                sb.Append(char.ToLowerInvariant(c));
            }
        }
        return sb.ToString();
    }
}
