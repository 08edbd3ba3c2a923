namespace Podmon.Capnp.Tests;

/// <summary>The repository root and its test fixtures (tests/fixtures: recordings of real implementations, see its README).</summary>
internal static class TestFiles
{
    public static readonly string RepoRoot = FindUp(d => Directory.Exists(Path.Combine(d, "src", "Podmon.Capnp")))
        ?? throw new InvalidOperationException("repository root (with src/Podmon.Capnp) not found above " + AppContext.BaseDirectory);
    public static readonly string Wire = Path.Combine(RepoRoot, "tests", "fixtures", "wire");

    public static byte[] Frame(string name) => File.ReadAllBytes(Path.Combine(Wire, name + ".bin"));

    /// <summary>Every top-level golden frame plus the per-session frames.</summary>
    public static IEnumerable<string> AllFramePaths()
    {
        IEnumerable<string> top = Directory.GetFiles(Wire, "*.bin").Where(f => !Path.GetFileName(f).Contains("-session-"));
        IEnumerable<string> sessions = Directory.GetFiles(Path.Combine(Wire, "sessions"), "*-*.bin", SearchOption.AllDirectories);
        return top.Concat(sessions).Order(StringComparer.Ordinal);
    }

    private static string? FindUp(Func<string, bool> match)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (match(d.FullName))
                return d.FullName;
        return null;
    }
}
