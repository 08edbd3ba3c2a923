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
            Assert.True(layout == File.ReadAllText(Path.Combine(TestFiles.Shared, "protocol", job.Layout)),
                $"{job.Layout} differs from shared/protocol; copy it and rerun the generator");

            var expected = SchemaGenerator.Generate(layout, job).ToDictionary(f => f.Name, f => f.Text);
            string dir = Path.Combine(TestFiles.RepoRoot, job.OutputDir);
            var actual = Directory.GetFiles(dir, "*.g.cs").ToDictionary(f => Path.GetFileName(f), File.ReadAllText);
            Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
            foreach ((string name, string text) in expected)
                Assert.True(text == actual[name], $"{job.OutputDir}/{name} is stale: run dotnet run --project src/Podmon.Capnp/Generator");
        }
    }
}
