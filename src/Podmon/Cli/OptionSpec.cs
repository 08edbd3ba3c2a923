namespace Podmon.Cli;

/// <summary>
/// One row of <see cref="OptionTable"/>: an option of one command, its names, how it takes a
/// value, the variable that sets it too (server mode's CONMON_*, read before the command line,
/// which wins), the parsers that read it and what podmon does with it. <see cref="What"/> says
/// where it acts, what is ignored, or the message it is rejected with.
/// </summary>
public sealed record OptionSpec(OptionCommand Command, char Short, string Long, OptionArity Arity, string? Env,
    OptionParsers ParsedBy, OptionHandling Handling, string What)
{
    /// <summary>conmon mode: this option on a command line makes native/early.c choose conmon mode (<see cref="OptionTable.ConmonModeNames"/>).</summary>
    public bool SelectsConmonMode { get; init; }

    /// <summary>Left out of `--help` (internal, or a deprecated spelling).</summary>
    public bool Hidden { get; init; }

    /// <summary>"-x", or null without a short name.</summary>
    public string? ShortName => Short == '\0' ? null : $"-{Short}";

    /// <summary>The short name (if any), then the long one.</summary>
    public IEnumerable<string> Names => ShortName is { } s ? [s, Long] : [Long];

    public bool IsParsedBy(OptionParsers parser) => (ParsedBy & parser) != 0;
}
