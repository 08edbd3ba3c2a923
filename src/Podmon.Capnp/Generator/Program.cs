using Podmon.Capnp.Generator;

string root = args.Length > 0 ? args[0] : Directory.GetCurrentDirectory();
foreach (SchemaGenerator.Job job in SchemaGenerator.Jobs)
{
    string layout = File.ReadAllText(Path.Combine(root, SchemaGenerator.LayoutDir, job.Layout));
    string outDir = Path.Combine(root, job.OutputDir);
    Directory.CreateDirectory(outDir);
    foreach (string stale in Directory.GetFiles(outDir, "*.g.cs"))
        File.Delete(stale);
    foreach ((string name, string text) in SchemaGenerator.Generate(layout, job))
        File.WriteAllText(Path.Combine(outDir, name), text);
    Console.WriteLine($"{job.Layout} -> {job.OutputDir}");
}
