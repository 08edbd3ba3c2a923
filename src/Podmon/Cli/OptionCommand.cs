namespace Podmon.Cli;

/// <summary>The command lines of the one binary, each with its own options in <see cref="OptionTable"/>.</summary>
public enum OptionCommand
{
    /// <summary>The conmon-rs server (Cli/CommandLine.cs).</summary>
    ServerMode,
    /// <summary>conmon mode: the C conmon's command line, as podman and CRI-O run it (ConmonCli/ConmonCommandLine.cs).</summary>
    ConmonMode,
    /// <summary>`podmon pause`, conmon-rs's pause subcommand (native/pause.c).</summary>
    Pause,
}
