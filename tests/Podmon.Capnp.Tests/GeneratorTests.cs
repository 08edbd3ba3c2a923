using System.Diagnostics;
using Podmon.Capnp.Generator;
using Podmon.Schema;
using Xunit;
using Decl = Podmon.Capnp.Generator.SchemaGenerator.Decl;
using Field = Podmon.Capnp.Generator.SchemaGenerator.Field;

namespace Podmon.Capnp.Tests;

public class GeneratorTests
{
    static readonly string RequestDir = Path.Combine(Repo.Root, SchemaGenerator.RequestDir);

    static byte[] Request(string schema) => File.ReadAllBytes(Path.Combine(RequestDir, schema + ".bin"));

    /// <summary>
    /// Every checked-in *.g.cs (the conmon and rpc accessors, the v0.7.x table, and the generator's own
    /// schema.capnp accessors) is what the generator makes of the committed requests; no capnp needed.
    /// </summary>
    [Fact]
    public void CheckedInAccessorsAreUpToDate()
    {
        foreach (SchemaGenerator.Job job in SchemaGenerator.Jobs)
        {
            var expected = SchemaGenerator.Generate(job, Request).ToDictionary(f => f.Name, f => f.Text);
            string dir = Path.Combine(Repo.Root, job.OutputDir);
            var actual = Directory.GetFiles(dir, "*.g.cs").ToDictionary(f => Path.GetFileName(f), File.ReadAllText);
            Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
            foreach ((string name, string text) in expected)
                Assert.True(text == actual[name], $"{job.OutputDir}/{name} is stale: run dotnet run --project src/Podmon.Capnp/Generator");
        }
    }

    static readonly string SchemaDir = Path.Combine(Repo.Root, "src", "Podmon", "Schema");

    /// <summary>Each committed request, the directory capnp ran in and the schema it compiled (see the README beside them).</summary>
    public static TheoryData<string, string, string> Schemas() => new()
    {
        { "conmon.capnp", SchemaDir, "conmon.capnp" },
        { "conmon-v0.7.3.capnp", SchemaDir, "conmon-v0.7.3.capnp" },
        { "rpc.capnp", "/", "/usr/include/capnp/rpc.capnp" },
        { "schema.capnp", "/", "/usr/include/capnp/schema.capnp" },
    };

    [Fact]
    public void EverySchemaHasACommittedRequest()
    {
        Assert.Equal(SchemaGenerator.Schemas.Order(), Schemas().Select(row => (string)row[0]).Order());
        Assert.Equal(SchemaGenerator.Schemas.Select(s => s + ".bin").Append("README.md").Order(),
            Directory.GetFiles(RequestDir).Select(Path.GetFileName).Order());
    }

    /// <summary>
    /// Each committed request is what `capnp compile` hands a plugin for its schema today (Debian's capnp
    /// 0.9.2, installed by tests/install-deps.sh): captured afresh with a plugin that copies its stdin.
    /// Without the tool there is nothing to compare with; the accessors are still checked against the
    /// committed requests above.
    /// </summary>
    [Theory]
    [MemberData(nameof(Schemas))]
    public void CommittedRequestsAreTheCompiledSchemas(string name, string workingDir, string schema)
    {
        if (OperatingSystem.IsWindows() || !File.Exists("/usr/bin/capnp") || !File.Exists(Path.Combine(workingDir, schema))) return;
        string dir = Directory.CreateTempSubdirectory("podmon-capnp-plugin-").FullName;
        try
        {
            string plugin = Path.Combine(dir, "copy-request");
            File.WriteAllText(plugin, "#!/bin/sh\nexec cat > \"$OUT\"\n");
            File.SetUnixFileMode(plugin, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            string captured = Path.Combine(dir, "request.bin");
            var psi = new ProcessStartInfo("/usr/bin/capnp", ["compile", "-o" + plugin, schema])
            {
                WorkingDirectory = workingDir,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            psi.Environment["OUT"] = captured;
            using var p = Process.Start(psi)!;
            string stderr = p.StandardError.ReadToEnd();
            p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, stderr);
            Assert.True(File.ReadAllBytes(captured).AsSpan().SequenceEqual(Request(name)),
                $"{SchemaGenerator.RequestDir}/{name}.bin is not what `capnp compile` makes of {schema}: " +
                "rerun the plugin (see the README there)");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [MemberData(nameof(Schemas))]
    public void RequestsAreForTheirSchemaFromCapnp092(string name, string workingDir, string schema)
    {
        _ = workingDir;
        byte[] request = Request(name);
        Assert.Equal((0, 9, 2), SchemaGenerator.CapnpVersion(request));
        Assert.Equal(new[] { schema.TrimStart('/') }, SchemaGenerator.RequestedFiles(request));
    }

    [Fact]
    public void AGeneratedStructHasTheCompiledLayout()
    {
        // Checked against `capnp compile -ocapnp /usr/include/capnp/schema.capnp`: Node is 40 bytes, 6 pointers,
        // its union tag at bits [96, 112); Field.discriminantValue defaults to 65535.
        Decl file = SchemaGenerator.Load(Request("schema.capnp"), "schema.capnp");
        Decl node = file.Nested.Single(d => d.Name == "Node");
        Assert.Equal((5, 6, 96), (node.DataWords, node.Pointers, node.UnionTagBit));
        Assert.Equal(["id", "displayName", "displayNamePrefixLength", "scopeId", "parameters", "isGeneric", "nestedNodes",
            "annotations", "file", "struct", "enum", "interface", "const", "annotation"], node.Fields.Select(f => f.Name));
        Decl group = node.Fields.Single(f => f.Name == "struct").Group!;
        Assert.Equal((192, 1), (group.Fields.Single(f => f.Name == "pointerCount").Bit, node.Fields.Single(f => f.Name == "struct").UnionTag));
        Field discriminant = file.Nested.Single(d => d.Name == "Field").Fields.Single(f => f.Name == "discriminantValue");
        Assert.Equal(("UInt16", 16, "65535"), (discriminant.Type.ToString(), discriminant.Bit, discriminant.Default));
        Assert.Equal("List(Parameter)", // Node.Parameter
            file.Nested.Single(d => d.Name == "Method").Fields.Single(f => f.Name == "implicitParameters").Type.ToString());
    }

    // The v0.7.x layouts: ConmonV073Layout (generated) against both compiled schemas, field by field.

    static readonly Decl Current = SchemaGenerator.Load(Request("conmon.capnp"), "conmon.capnp");
    static readonly Decl Old = SchemaGenerator.Load(Request("conmon-v0.7.3.capnp"), "conmon-v0.7.3.capnp");

    static Dictionary<string, Decl> Structs(Decl file) =>
        file.Nested.Single(d => d.Name == "Conmon").Nested.Where(d => d.Kind == "struct").ToDictionary(d => d.Name);

    static (string, string, int) Key(Field f) => (f.Name, f.Type.ToString(), f.Ptr);

    [Fact]
    public void EveryStructThatDiffersIsInTheTable()
    {
        Dictionary<string, Decl> now = Structs(Current), old = Structs(Old);
        Assert.Equal(now.Keys.Order(), old.Keys.Order());
        var differ = now.Keys.Where(n => now[n].Pointers != old[n].Pointers || !now[n].Fields.Select(Key).SequenceEqual(old[n].Fields.Select(Key)));
        Assert.Equal(ConmonV073Layout.All.Select(s => s.Struct).Order(), differ.Order());
        // The response that differs only gains v0.7's metadata :Data as one more, last pointer.
        Assert.Equal(now["VersionResponse"].Pointers + 1, old["VersionResponse"].Pointers);
        Assert.Equal(("metadata", "Data", now["VersionResponse"].Pointers), Key(old["VersionResponse"].Fields.Single(f => f.Name == "metadata")));
        Assert.Equal(now["VersionResponse"].Pointers, ConmonV073Layout.VersionResponse.OldSlot);
        Assert.Empty(ConmonV073Layout.VersionResponse.Shifted);
    }

    static ElementSize KindOf(string type) => type switch
    {
        "Text" or "Data" => ElementSize.Byte,
        "List(Text)" => ElementSize.Pointer,
        "List(UInt64)" => ElementSize.EightBytes,
        "List(Namespace)" => ElementSize.TwoBytes, // an enum: 16 bits
        _ when type.StartsWith("List(") => ElementSize.InlineComposite,
        _ => throw new InvalidOperationException($"no slot kind for {type}"),
    };

    [Fact]
    public void ShapesMatchBothSchemas()
    {
        Dictionary<string, Decl> structs = Structs(Current), olds = Structs(Old);
        foreach (ConmonV073Layout.Shape shape in ConmonV073Layout.All)
        {
            Decl now = structs[shape.Struct], old = olds[shape.Struct];
            Assert.Equal(now.Pointers, shape.CurrentPointers);
            Assert.Equal(old.Pointers, shape.OldPointers);
            Assert.Equal((shape.Field, "Void", -1), Key(now.Fields.Single(f => f.Name == shape.Field)));
            Assert.Equal((shape.Field, "Data", shape.OldSlot), Key(old.Fields.Single(f => f.Name == shape.Field)));
            foreach (Field f in now.Fields.Where(f => f.Name != shape.Field))
            {
                Field o = old.Fields.Single(x => x.Name == f.Name);
                Assert.Equal(f.Type.ToString(), o.Type.ToString());
                if (f.Ptr < 0) Assert.Equal((-1, f.Bit), (o.Ptr, o.Bit)); // data fields are where they were
                else if (f.Ptr < shape.OldSlot) Assert.Equal(f.Ptr, o.Ptr);
                else
                {
                    Assert.True(o.Ptr == f.Ptr + 1, $"{shape.Struct}.{f.Name}: v0.7 ptr[{o.Ptr}], v1.0 ptr[{f.Ptr}]");
                    Assert.True(shape.Shifted[f.Ptr - shape.OldSlot] == KindOf(f.Type.ToString()), $"{shape.Struct}.{f.Name} is a {f.Type}");
                }
            }
        }
    }

    [Fact]
    public void EveryMethodWhoseRequestDiffersHasItsShape()
    {
        Decl conmon = Current.Nested.Single(d => d.Name == "Conmon");
        Assert.Equal(Enum.GetValues<ConmonMethod>().Length, conmon.Methods.Count);
        foreach (ConmonMethod method in Enum.GetValues<ConmonMethod>())
        {
            SchemaGenerator.Method m = conmon.Methods.Single(m => m.Ordinal == (int)method);
            string request = m.Params.Fields.Single(f => f.Name == "request").Type.Target!.Name;
            string response = m.Results.Fields.Single(f => f.Name == "response").Type.Target!.Name;
            Assert.Equal(ConmonV073Layout.All.FirstOrDefault(s => s.Struct == request), ConmonV073Layout.Request(method));
            Assert.Equal(ConmonV073Layout.All.FirstOrDefault(s => s.Struct == response), ConmonV073Layout.Response(method));
            Assert.Same(ConmonV073Layout.Request(method), Podmon.Rpc.SchemaGeneration.Of(method));
        }
    }

    /// <summary>A difference the one set of accessors could not read is refused, not tabled.</summary>
    [Theory]
    [InlineData("a pointer moves elsewhere")]
    [InlineData("a data field moves")]
    [InlineData("a field changes type")]
    [InlineData("the Void field was a list")]
    [InlineData("a type is missing")]
    public void OtherDifferencesAreRefused(string change)
    {
        Decl old = SchemaGenerator.Load(Request("conmon-v0.7.3.capnp"), "conmon-v0.7.3.capnp");
        Dictionary<string, Decl> structs = Structs(old);
        Decl create = structs["CreateContainerRequest"];
        Field F(string name) => create.Fields.Single(f => f.Name == name);
        switch (change)
        {
            case "a pointer moves elsewhere": F("leakFds").Ptr = 3; break;
            case "a data field moves": F("terminal").Bit = 7; break;
            case "a field changes type": F("envVars").Type = F("exitPaths").Type; break;
            case "the Void field was a list": F("metadataOld").Type = F("exitPaths").Type; break;
            case "a type is missing": old.Nested.Single(d => d.Name == "Conmon").Nested.Remove(structs["AttachRequest"]); break;
        }
        Assert.Throws<NotSupportedException>(() => SchemaGenerator.Compare(Current, old, "conmon.capnp", "conmon-v0.7.3.capnp"));
    }

    /// <summary>A struct that differs may not have groups: their readers are views of its reader that are not told the layout.</summary>
    [Fact]
    public void AStructThatDiffersAndHasAGroupIsRefused()
    {
        Decl now = SchemaGenerator.Load(Request("conmon.capnp"), "conmon.capnp");
        Decl old = SchemaGenerator.Load(Request("conmon-v0.7.3.capnp"), "conmon-v0.7.3.capnp");
        foreach (Decl file in new[] { now, old })
            Structs(file)["CreateContainerRequest"].Fields.Add(new Field
            {
                Name = "extra",
                Type = new SchemaGenerator.TypeRef("group"),
                Group = new Decl { Kind = "group", Name = "extra" },
            });
        var e = Assert.Throws<NotSupportedException>(() => SchemaGenerator.Compare(now, old, "conmon.capnp", "conmon-v0.7.3.capnp"));
        Assert.Contains("groups", e.Message);
    }

    /// <summary>The readers of the structs that differ, and no others, can be constructed for the older layout.</summary>
    [Fact]
    public void TheReadersOfTheStructsThatDifferAloneReadTheOlderLayout()
    {
        SchemaGenerator.Job job = SchemaGenerator.Jobs.Single(j => j.Previous == "conmon-v0.7.3.capnp");
        IEnumerable<string> readers = SchemaGenerator.Generate(job, Request)
            .SelectMany(f => System.Text.RegularExpressions.Regex.Matches(f.Text, @"public (\w+)\(StructReader s, bool conmonV073\)"))
            .Select(m => m.Groups[1].Value);
        Assert.Equal(ConmonV073Layout.All.Select(s => s.Struct + "Reader").Order(), readers.Order());
    }

    [Fact]
    public void TheGenerationsTableIsNamedAfterTheOlderSchema() =>
        Assert.Equal(nameof(ConmonV073Layout), SchemaGenerator.GenerationsClass("conmon-v0.7.3.capnp"));
}
