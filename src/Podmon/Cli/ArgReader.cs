namespace Podmon.Cli;

/// <summary>
/// Walks a clap-style argv for <see cref="CommandLine"/>: `--name value`, `--name=value`,
/// `-x value`, `-xVALUE`, `-x=VALUE`; a value never starts with '-' unless attached.
/// </summary>
internal sealed class ArgReader(IReadOnlyList<string> args)
{
    int _i;
    string? _inline;

    public bool Next(out string arg)
    {
        _inline = null;
        if (_i >= args.Count) { arg = ""; return false; }
        arg = args[_i++];
        return true;
    }

    /// <summary>The flag's name; remembers an attached value.</summary>
    public string Name(string arg)
    {
        if (arg.StartsWith("--"))
        {
            int eq = arg.IndexOf('=');
            if (eq < 0) return arg;
            _inline = arg[(eq + 1)..];
            return arg[..eq];
        }
        if (arg.Length > 2 && arg[0] == '-')
        {
            _inline = arg[2..].StartsWith('=') ? arg[3..] : arg[2..];
            return arg[..2];
        }
        return arg;
    }

    public string Value(string flag)
    {
        if (_inline is not null) return _inline;
        // Like clap: a following flag is not taken as the value.
        if (_i >= args.Count || args[_i].Length > 1 && args[_i][0] == '-')
            throw new UsageException($"a value is required for '{flag}' but none was supplied");
        return args[_i++];
    }

    /// <summary>A value that may be omitted (`--version`, `--version full`): the next argument only if it is one of <paramref name="known"/>.</summary>
    public string? OptionalValue(string[] known)
    {
        if (_inline is not null) return _inline;
        if (_i < args.Count && Array.IndexOf(known, args[_i]) >= 0) return args[_i++];
        return null;
    }

    /// <summary>The attached value (`--skip-fork=false`), or null.</summary>
    public string? Attached => _inline;
}
