using System.Text.RegularExpressions;

namespace Podmon.Tests;

/// <summary>
/// Dependencies point from the front ends (Cli, Conmon, Rpc, Server, Streaming) to the core (Sys, Loop, Tracing,
/// Logging, Containers, Diagnostics, Hosting, Pod), never back: the core is what every front end shares,
/// so it must not know any of them. Among the front ends, Server composes Rpc, never the other
/// way round. Read from the source, so a new import fails here first.
/// </summary>
public partial class ArchitectureTests
{
    static readonly string[] Core = ["Sys", "Loop", "Logging", "Containers", "Diagnostics", "Hosting", "Pod", "Tracing"];
    static readonly string[] FrontEnds = ["Podmon.Cli", "Podmon.ConmonCli", "Podmon.Rpc", "Podmon.Server", "Podmon.Schema", "Podmon.Streaming"];

    [GeneratedRegex(@"\bPodmon\.(Cli|ConmonCli|Rpc|Server|Schema|Streaming)\b")]
    private static partial Regex FrontEndName();

    static string Src => Repo.PodmonSources;

    public static TheoryData<string> CoreFolders() => [.. Core];

    [Theory]
    [MemberData(nameof(CoreFolders))]
    public void Core_imports_no_front_end(string folder)
    {
        var offenders = new List<string>();
        string[] files = Directory.GetFiles(Path.Combine(Src, folder), "*.cs", SearchOption.AllDirectories);
        Assert.NotEmpty(files);
        foreach (string file in files)
        {
            string[] lines = File.ReadAllLines(file);
            for (int i = 0; i < lines.Length; i++)
            {
                string code = lines[i].TrimStart();
                if (code.StartsWith("//", StringComparison.Ordinal)) continue;
                if (FrontEndName().Match(code) is { Success: true } m)
                    offenders.Add($"{Path.GetRelativePath(Src, file)}:{i + 1}: {m.Value}");
            }
        }
        Assert.True(offenders.Count == 0, $"the core must not depend on a front end ({string.Join(", ", FrontEnds)}):\n" + string.Join("\n", offenders));
    }

    [Fact]
    public void Rpc_does_not_depend_on_Server()
    {
        var offenders = new List<string>();
        foreach (string file in Directory.GetFiles(Path.Combine(Src, "Rpc"), "*.cs", SearchOption.AllDirectories))
            foreach ((string line, int i) in File.ReadAllLines(file).Select((l, i) => (l, i)))
                if (!line.TrimStart().StartsWith("//", StringComparison.Ordinal) && line.Contains("Podmon.Server", StringComparison.Ordinal))
                    offenders.Add($"{Path.GetRelativePath(Src, file)}:{i + 1}");
        Assert.True(offenders.Count == 0, "Rpc must not import Server (Server composes Rpc):\n" + string.Join("\n", offenders));
    }

    [Fact]
    public void Streaming_does_not_depend_on_Rpc_or_Server()
    {
        var offenders = new List<string>();
        foreach (string file in Directory.GetFiles(Path.Combine(Src, "Streaming"), "*.cs", SearchOption.AllDirectories))
            foreach ((string line, int i) in File.ReadAllLines(file).Select((l, i) => (l, i)))
                if (!line.TrimStart().StartsWith("//", StringComparison.Ordinal) &&
                    (line.Contains("Podmon.Server", StringComparison.Ordinal) || line.Contains("Podmon.Rpc", StringComparison.Ordinal)))
                    offenders.Add($"{Path.GetRelativePath(Src, file)}:{i + 1}");
        Assert.True(offenders.Count == 0, "Streaming is a front end of its own (Rpc calls it, not the other way round):\n" + string.Join("\n", offenders));
    }

    [Fact]
    public void The_check_sees_an_import()
    {
        Assert.Matches(FrontEndName(), "using Podmon.Cli;");
        Assert.Matches(FrontEndName(), "var x = Podmon.Server.ServerHost.Foo;");
        Assert.DoesNotMatch(FrontEndName(), "using Podmon.Containers;");
    }
}
