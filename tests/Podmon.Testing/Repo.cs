namespace Podmon.Testing;

/// <summary>
/// The repository the test binaries were built from (found once, above them: the directory with
/// src/Podmon/Podmon.csproj and tests/fixtures), and the files in it the tests read.
/// </summary>
public static class Repo
{
    static readonly Lazy<string> _root = new(Find);

    /// <summary>The repository root; a clear error when the binaries are not inside a checkout.</summary>
    public static string Root => _root.Value;

    /// <summary>A path inside the repository, e.g. <c>Repo.Path("tests", "interop", "build.sh")</c>.</summary>
    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    /// <summary>src: the product's projects, one per layer (read by the architecture test).</summary>
    public static string Sources => Path("src");

    /// <summary>tests/fixtures: recordings of real implementations (see its README).</summary>
    public static string Fixtures => Path("tests", "fixtures");

    /// <summary>tests/fixtures/conmon-cli/captures: podman's real conmon argv.</summary>
    public static string ConmonCliCaptures => Path("tests", "fixtures", "conmon-cli", "captures");

    /// <summary>.build: build outputs (test binaries, the interop tools, test results).</summary>
    public static string BuildDir => Path(".build");

    static string Find()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(System.IO.Path.Combine(d.FullName, "src", "Podmon", "Podmon.csproj"))
                && Directory.Exists(System.IO.Path.Combine(d.FullName, "tests", "fixtures")))
                return d.FullName;
        throw new DirectoryNotFoundException(
            $"the podmon repository (src/Podmon/Podmon.csproj and tests/fixtures) was not found above the test binaries ({AppContext.BaseDirectory})");
    }
}

/// <summary>
/// The golden Cap'n Proto frames (tests/fixtures/wire): recorded from the official C++
/// implementation, byte-exact. One loader for every test project.
/// </summary>
public static class GoldenFrames
{
    /// <summary>tests/fixtures/wire.</summary>
    public static string Dir => Repo.Path("tests", "fixtures", "wire");

    /// <summary>The path of a top-level frame by name, e.g. "version-request".</summary>
    public static string PathOf(string name) => Path.Combine(Dir, name + ".bin");

    /// <summary>A top-level frame by name, e.g. "version-request".</summary>
    public static byte[] Load(string name) => File.ReadAllBytes(PathOf(name));

    /// <summary>Every top-level frame plus the per-session frames, in ordinal order.</summary>
    public static IEnumerable<string> AllPaths()
    {
        IEnumerable<string> top = Directory.GetFiles(Dir, "*.bin").Where(f => !Path.GetFileName(f).Contains("-session-"));
        IEnumerable<string> sessions = Directory.GetFiles(Path.Combine(Dir, "sessions"), "*-*.bin", SearchOption.AllDirectories);
        return top.Concat(sessions).Order(StringComparer.Ordinal);
    }
}
