namespace Podmon.Cli;

/// <summary>The kinds of <see cref="Command"/>: run the server, or print and exit (`pause` never gets here: native/pause.c runs it).</summary>
public enum CommandKind { Server, Help, Version, VersionJson }
