namespace Podmon.Capnp.Tests;

/// <summary>Locates the shared reference material and the repository root.</summary>
internal static class TestFiles
{
    public static readonly string Shared = FindShared();
    public static readonly string Wire = Path.Combine(Shared, "protocol", "wire");
    public static readonly string RepoRoot = FindUp(d => Directory.Exists(Path.Combine(d, "src", "Podmon.Capnp")))
        ?? throw new InvalidOperationException("repository root (with src/Podmon.Capnp) not found above " + AppContext.BaseDirectory);

    public static byte[] Frame(string name) => File.ReadAllBytes(Path.Combine(Wire, name + ".bin"));

    /// <summary>Every top-level golden frame plus the per-session frames.</summary>
    public static IEnumerable<string> AllFramePaths()
    {
        IEnumerable<string> top = Directory.GetFiles(Wire, "*.bin").Where(f => !Path.GetFileName(f).Contains("-session-"));
        IEnumerable<string> sessions = Directory.GetFiles(Path.Combine(Wire, "sessions"), "*-*.bin", SearchOption.AllDirectories);
        return top.Concat(sessions).Order(StringComparer.Ordinal);
    }

    private static string FindShared()
    {
        string? env = Environment.GetEnvironmentVariable("PODMON_SHARED");
        if (!string.IsNullOrEmpty(env))
        {
            if (!Directory.Exists(Path.Combine(env, "protocol", "wire")))
                throw new InvalidOperationException($"PODMON_SHARED={env} has no protocol/wire directory");
            return env;
        }
        return FindUp(d => Directory.Exists(Path.Combine(d, "shared", "protocol", "wire"))) is { } parent
            ? Path.Combine(parent, "shared")
            : throw new InvalidOperationException(
                "shared reference material not found: set PODMON_SHARED or place 'shared/protocol' beside the repository (searched upwards from "
                + AppContext.BaseDirectory + ")");
    }

    private static string? FindUp(Func<string, bool> match)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (match(d.FullName))
                return d.FullName;
        return null;
    }
}
