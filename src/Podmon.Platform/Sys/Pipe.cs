namespace Podmon.Sys;

/// <summary>Which container stream a chunk of output came from.</summary>
public enum Pipe : byte
{
    Stdout,
    Stderr,
}
