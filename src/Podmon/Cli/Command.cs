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
}
