namespace Podmon.Cli;

/// <summary>
/// What the server command line asks for (<see cref="CommandLine.Parse"/>): run the server with
/// <see cref="Server"/>, or print the usage or the version and exit. A plain value, so the parser
/// is tested without running anything.
/// </summary>
public sealed class Command
{
    public CommandKind Kind { get; init; }
    public VersionVerbosity Verbosity { get; init; }
    public ServerOptions Server { get; init; } = new();
    /// <summary>The long names of options given that podmon accepts and ignores (to be reported once the log is set up).</summary>
    public IReadOnlyList<string> Ignored { get; init; } = [];
}
