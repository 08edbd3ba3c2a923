using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Podmon.Tests;

/// <summary>
/// The layers are assemblies and dependencies point one way. The platform (src/Podmon.Platform:
/// Sys, Diagnostics, Loop, Tracing) references no other project; the container runtime
/// (src/Podmon.Runtime: Logging, Containers, Pod, Streaming) only the platform; Podmon.Capnp
/// nothing of podmon; the front ends (src/Podmon: Schema, Hosting, Cli, Rpc, ConmonCli, Server and
/// the root's Program) build on all three. The compiler holds the assemblies to their project
/// references, checked here; inside each, a folder (= namespace) may use only the folders listed
/// in <see cref="MayUse"/>, read from the source, so a new import fails here first.
/// </summary>
public partial class ArchitectureTests
{
    static readonly Dictionary<string, string[]> ProjectReferences = new()
    {
        ["Podmon.Platform"] = [],
        ["Podmon.Capnp"] = [],
        ["Podmon.Runtime"] = ["Podmon.Platform"],
        ["Podmon"] = ["Podmon.Runtime", "Podmon.Platform", "Podmon.Capnp"],
    };

    static readonly string[] Platform = ["Sys", "Diagnostics", "Loop", "Tracing"];
    static readonly string[] Runtime = ["Logging", "Containers", "Pod", "Streaming"];

    /// <summary>Project/folder → the namespaces (top folder names) its code may use besides its own.</summary>
    static readonly Dictionary<string, string[]> MayUse = new()
    {
        ["Podmon.Platform/Sys"] = [],
        ["Podmon.Platform/Diagnostics"] = ["Sys"],
        ["Podmon.Platform/Loop"] = ["Sys", "Diagnostics"],
        ["Podmon.Platform/Tracing"] = ["Sys", "Diagnostics"],
        ["Podmon.Runtime/Logging"] = [.. Platform],
        ["Podmon.Runtime/Containers"] = [.. Platform, "Logging"],
        ["Podmon.Runtime/Pod"] = [.. Platform, "Containers"],
        ["Podmon.Runtime/Streaming"] = [.. Platform, "Logging", "Containers"],
        ["Podmon/Schema"] = ["Capnp"],
        ["Podmon/Hosting"] = [.. Platform, .. Runtime],
        ["Podmon/Cli"] = [.. Platform, .. Runtime],
        ["Podmon/Rpc"] = [.. Platform, .. Runtime, "Capnp", "Schema", "Hosting"],
        ["Podmon/ConmonCli"] = [.. Platform, .. Runtime, "Hosting", "Cli"],
        ["Podmon/Server"] = [.. Platform, .. Runtime, "Capnp", "Schema", "Hosting", "Cli", "Rpc"],
    };

    static readonly string[] Namespaces = [.. Platform, .. Runtime, "Capnp", "Schema", "Hosting", "Cli", "Rpc", "ConmonCli", "Server"];

    // Podmon.X anywhere, or X.Type from a sibling namespace (not after a '.', so a property's X.Y is not one).
    [GeneratedRegex(@"\bPodmon\.(?<ns>[A-Z]\w*)|(?<![\w.])(?<ns>Sys|Diagnostics|Loop|Tracing|Logging|Containers|Pod|Streaming|Capnp|Schema|Hosting|Cli|Rpc|ConmonCli|Server)\.[A-Z]\w*")]
    private static partial Regex NamespaceUse();

    static string Src => Repo.Sources;

    public static TheoryData<string> Projects() => [.. ProjectReferences.Keys];
    public static TheoryData<string> Folders() => [.. MayUse.Keys];

    [Theory]
    [MemberData(nameof(Projects))]
    public void A_layer_references_only_the_layers_below_it(string project)
    {
        string csproj = Path.Combine(Src, project, project + ".csproj");
        string[] references = [.. XDocument.Load(csproj).Descendants("ProjectReference")
            .Select(r => Path.GetFileNameWithoutExtension((string)r.Attribute("Include")!)).Order()];
        Assert.Equal(ProjectReferences[project].Order(), references);
    }

    [Fact]
    public void Every_folder_of_every_layer_is_in_the_table()
    {
        var folders = ProjectReferences.Keys.Where(p => p != "Podmon.Capnp")
            .SelectMany(p => Directory.GetDirectories(Path.Combine(Src, p)).Select(d => $"{p}/{Path.GetFileName(d)}"));
        Assert.Empty(folders.Except(MayUse.Keys).Order());
    }

    [Theory]
    [MemberData(nameof(Folders))]
    public void A_folder_uses_only_what_its_layer_allows(string folder)
    {
        string own = folder[(folder.IndexOf('/') + 1)..];
        var allowed = new HashSet<string>(MayUse[folder]) { own };
        var offenders = new List<string>();
        foreach (string file in SourceFiles(folder))
            foreach ((string line, int i) in File.ReadAllLines(file).Select((l, i) => (l, i)))
            {
                if (line.TrimStart().StartsWith("//", StringComparison.Ordinal)) continue;
                foreach (Match m in NamespaceUse().Matches(line))
                {
                    string ns = m.Groups["ns"].Value;
                    if (Namespaces.Contains(ns) && !allowed.Contains(ns))
                        offenders.Add($"{Path.GetRelativePath(Src, file)}:{i + 1}: {m.Value}");
                }
            }
        Assert.True(offenders.Count == 0, $"{folder} may use only {string.Join(", ", MayUse[folder])}:\n" + string.Join("\n", offenders));
    }

    [Theory]
    [MemberData(nameof(Folders))]
    public void Folder_is_namespace(string folder)
    {
        string root = Path.Combine(Src, folder[..folder.IndexOf('/')]);
        var wrong = new List<string>();
        foreach (string file in SourceFiles(folder))
        {
            string expected = "Podmon." + Path.GetRelativePath(root, Path.GetDirectoryName(file)!).Replace('/', '.');
            string? declared = File.ReadLines(file).Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("namespace ", StringComparison.Ordinal));
            if (declared != $"namespace {expected};") wrong.Add($"{Path.GetRelativePath(Src, file)}: {declared ?? "(none)"}, not {expected}");
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    static string[] SourceFiles(string folder)
    {
        string[] files = Directory.GetFiles(Path.Combine(Src, folder), "*.cs", SearchOption.AllDirectories);
        Assert.NotEmpty(files);
        return files;
    }

    [Fact]
    public void The_check_sees_imported_and_qualified_names_only()
    {
        Assert.Equal("Rpc", NamespaceUse().Match("using Podmon.Rpc;").Groups["ns"].Value);
        Assert.Equal("Server", NamespaceUse().Match("var x = Podmon.Server.ServerHost.Foo;").Groups["ns"].Value);
        Assert.Equal("Logging", NamespaceUse().Match("public string J { get; init; } = Logging.JournalSocket.DefaultPath;").Groups["ns"].Value);
        Assert.DoesNotMatch(NamespaceUse(), "session.Server.Loop.Modify(_reg, Interest);");
        Assert.DoesNotMatch(NamespaceUse(), "var server = new Listener();");
    }
}
