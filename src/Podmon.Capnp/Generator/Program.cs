using Podmon.Capnp.Generator;

// Podmon.Capnp.Generator [--plugin] [repository root]
//
// Without --plugin: writes every job's accessors from the committed CodeGeneratorRequests
// (SchemaGenerator.RequestDir), without the capnp tool.
//
// --plugin: a Cap'n Proto compiler plugin (run through the capnpc-podmon wrapper beside this file):
// `capnp compile -o<path>/capnpc-podmon <schema>` hands it the CodeGeneratorRequest on stdin; it stores
// the request as the schema's committed request, then writes every job's accessors as above. The
// exact commands, from which directory, are in tests/Podmon.Capnp.Tests/CodeGeneratorRequests/README.md.
bool plugin = args.Contains("--plugin");
string root = args.FirstOrDefault(a => a != "--plugin") ?? FindRoot()
    ?? throw new InvalidOperationException("repository root (with src/Podmon.Capnp) not found; pass it as an argument");
string requests = Path.Combine(root, SchemaGenerator.RequestDir);

if (plugin)
{
    using var stdin = Console.OpenStandardInput();
    using var buffer = new MemoryStream();
    stdin.CopyTo(buffer);
    byte[] request = buffer.ToArray();
    List<string> files = SchemaGenerator.RequestedFiles(request);
    string schema = files.Count == 1 ? Path.GetFileName(files[0])
        : throw new InvalidOperationException($"compile one schema at a time, not {files.Count}");
    if (!SchemaGenerator.Schemas.Contains(schema))
        throw new InvalidOperationException($"no job for {schema}; the schemas are {string.Join(", ", SchemaGenerator.Schemas)}");
    Directory.CreateDirectory(requests);
    File.WriteAllBytes(Path.Combine(requests, schema + ".bin"), request);
    Console.Error.WriteLine($"{files[0]} -> {SchemaGenerator.RequestDir}/{schema}.bin");
}

foreach (SchemaGenerator.Job job in SchemaGenerator.Jobs)
{
    string outDir = Path.Combine(root, job.OutputDir);
    var generated = SchemaGenerator.Generate(job, schema => File.ReadAllBytes(Path.Combine(requests, schema + ".bin")));
    Directory.CreateDirectory(outDir);
    foreach (string stale in Directory.GetFiles(outDir, "*.g.cs"))
        File.Delete(stale);
    foreach ((string name, string text) in generated)
        File.WriteAllText(Path.Combine(outDir, name), text);
    Console.Error.WriteLine($"{job.Schema}{(job.Previous is null ? "" : " and " + job.Previous)} -> {job.OutputDir}");
}

static string? FindRoot()
{
    foreach (string start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            if (Directory.Exists(Path.Combine(d.FullName, "src", "Podmon.Capnp")))
                return d.FullName;
    return null;
}
