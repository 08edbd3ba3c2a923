using Podmon.Capnp.Generator;
using Xunit;

namespace Podmon.Capnp.Tests;

public class GeneratorTests
{
    [Fact]
    public void CheckedInAccessorsAreUpToDate()
    {
        foreach (SchemaGenerator.Job job in SchemaGenerator.Jobs)
        {
            string layoutPath = Path.Combine(TestFiles.RepoRoot, SchemaGenerator.LayoutDir, job.Layout);
            string layout = File.ReadAllText(layoutPath);

            var expected = SchemaGenerator.Generate(layout, job).ToDictionary(f => f.Name, f => f.Text);
            string dir = Path.Combine(TestFiles.RepoRoot, job.OutputDir);
            var actual = Directory.GetFiles(dir, "*.g.cs").ToDictionary(f => Path.GetFileName(f), File.ReadAllText);
            Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
            foreach ((string name, string text) in expected)
                Assert.True(text == actual[name], $"{job.OutputDir}/{name} is stale: run dotnet run --project src/Podmon.Capnp/Generator");
        }
    }

    static readonly string SchemaDir = Path.Combine(TestFiles.RepoRoot, "src", "Podmon", "Schema");

    /// <summary>Each layout listing, the directory capnp ran in and the schema it compiled (the listing's first line names it).</summary>
    public static TheoryData<string, string, string> Schemas() => new()
    {
        { "conmon.capnp.layout.txt", SchemaDir, "conmon.capnp" },
        { "conmon-v0.7.3.capnp.layout.txt", SchemaDir, "conmon-v0.7.3.capnp" },
        { "rpc.capnp.layout.txt", "/", "/usr/include/capnp/rpc.capnp" },
    };

    /// <summary>
    /// Each checked-in listing is what `capnp compile -ocapnp` makes of its schema (Debian's capnp
    /// 0.9.2, installed by tests/install-deps.sh). Without the tool there is nothing to compare
    /// with; the accessors are still checked against the listings above.
    /// </summary>
    [Theory]
    [MemberData(nameof(Schemas))]
    public void LayoutListingsAreTheCompiledSchemas(string layout, string workingDir, string schema)
    {
        if (!File.Exists("/usr/bin/capnp") || !File.Exists(Path.Combine(workingDir, schema))) return;
        var psi = new System.Diagnostics.ProcessStartInfo("/usr/bin/capnp", ["compile", "-ocapnp", schema])
        {
            WorkingDirectory = workingDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = System.Diagnostics.Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, p.StandardError.ReadToEnd());
        Assert.True(output == File.ReadAllText(Path.Combine(TestFiles.RepoRoot, SchemaGenerator.LayoutDir, layout)),
            $"{layout} is not `capnp compile -ocapnp {schema}`: regenerate it and rerun the generator");
    }
}
