namespace Podmon.Cli;

/// <summary>How an option of <see cref="OptionTable"/> takes its value; the parsers read values by it.</summary>
public enum OptionArity
{
    /// <summary>No value.</summary>
    Flag,
    /// <summary>No value, or an attached boolean (`--skip-fork=false`); its variable holds a boolean.</summary>
    Bool,
    /// <summary>One value, attached or the next argument.</summary>
    Value,
    /// <summary>A value may follow: `--version [full]`, conmon's `--api-version [N]`.</summary>
    OptionalValue,
}
