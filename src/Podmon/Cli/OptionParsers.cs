namespace Podmon.Cli;

/// <summary>
/// The parsers that read an option of <see cref="OptionTable"/>. Each one reads exactly the
/// options the table gives it: OptionTableTests compares the C sources' option names and the
/// managed parsers' actions with the table.
/// </summary>
[Flags]
public enum OptionParsers
{
    /// <summary>native/early.c, before the runtime starts: the mode, forking, --skip-fork, --sync, passthrough stdio.</summary>
    EarlyC = 1,
    /// <summary>native/pause.c: `podmon pause`, run by early.c before the runtime starts.</summary>
    PauseC = 2,
    /// <summary>The managed parser of the option's command (Cli/CommandLine.cs, ConmonCli/ConmonCommandLine.cs).</summary>
    Managed = 4,
}
