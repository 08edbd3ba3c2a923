namespace Podmon.Cli;

/// <summary>`--version [default|full]`: conmon-rs's two verbosities (full adds the dependency tree).</summary>
public enum VersionVerbosity { Default, Full }
