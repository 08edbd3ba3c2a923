namespace Podmon.Cli;

/// <summary>
/// A command-line or configuration error: one line for the user, exit code 2 (server mode) or 1
/// and the sync pipe (conmon mode). Its own type so callers tell it from a failure at run time.
/// </summary>
public sealed class UsageException(string message) : Exception(message);
