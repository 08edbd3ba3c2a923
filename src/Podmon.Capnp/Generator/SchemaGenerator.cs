using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Podmon.Capnp.Generator;

/// <summary>
/// Generates typed readers/builders from the listing printed by <c>capnp compile -ocapnp</c>, which
/// states every field's exact bit or pointer slot. Handles what our two schemas use: structs, enums,
/// unions, groups, nested types, lists, Text/Data/AnyPointer, defaults, and interface method
/// params/results structs.
/// </summary>
public static partial class SchemaGenerator
{
    public sealed record Job(string Layout, string OutputDir, string Namespace, IReadOnlyDictionary<string, string> Renames);

    public const string LayoutDir = "src/Podmon.Capnp/Generator";

    public static readonly Job[] Jobs =
    [
        // rpc.Message would clash with Podmon.Capnp.MessageReader/MessageBuilder.
        new("rpc.capnp.layout.txt", "src/Podmon.Capnp/Rpc/Schema", "Podmon.Capnp.Rpc",
            new Dictionary<string, string> { ["Message"] = "RpcMessage" }),
        new("conmon.capnp.layout.txt", "src/Podmon/Schema", "Podmon.Schema", new Dictionary<string, string>()),
    ];

    private sealed class Decl
    {
        public required string Kind; // struct, enum, group, interface
        public required string Name;
        public Decl? Parent;
        public ulong Id;
        public int DataWords;
        public int Pointers;
        public int UnionTagBit = -1;
        public string CsName = "";
        public readonly List<Field> Fields = [];
        public readonly List<Decl> Nested = [];
        public readonly List<(string Name, int Value)> Enumerants = [];
        public readonly List<(string Name, int Ordinal, string Request, string Response)> Methods = [];
    }

    private sealed class Field
    {
        public required string Name;
        public required string Type;
        public string? Default;
        public int Bit = -1;
        public int Ptr = -1;
        public int UnionTag = -1;
        public Decl? Group;
    }

    [GeneratedRegex(@"^(struct|enum|interface) (\w+) @0x([0-9a-f]+) \{(?:\s+# (\d+) bytes, (\d+) ptrs)?$")]
    private static partial Regex DeclRe();
    [GeneratedRegex(@"^union \{\s+# tag bits \[(\d+), \d+\)$")]
    private static partial Regex UnionRe();
    [GeneratedRegex(@"^(\w+) :group \{$")]
    private static partial Regex GroupRe();
    [GeneratedRegex(@"^(\w+) @(\d+) \(request :(\w+)\) -> \(response :(\w+)\);$")]
    private static partial Regex MethodRe();
    [GeneratedRegex(@"^(\w+) @(\d+);$")]
    private static partial Regex EnumerantRe();
    [GeneratedRegex(@"^(\w+) @\d+ :(.+?)(?: = (.+?))?;\s+# (?:bits\[(\d+), \d+\)|ptr\[(\d+)\])(?:, union tag = (\d+))?$")]
    private static partial Regex FieldRe();

    /// <summary>Returns (file name, content) pairs, one file per top-level type.</summary>
    public static List<(string Name, string Text)> Generate(string layout, Job job)
    {
        List<Decl> top = Parse(layout);
        var all = new List<Decl>();
        foreach (Decl d in top)
            Collect(d, all);
        foreach (Decl d in all)
            d.CsName = CsName(d, job.Renames);
        var listed = new HashSet<Decl>();
        foreach (Decl d in all)
            foreach (Field f in d.Fields)
                if (ListElement(f.Type) is { } e && Resolve(d, e) is { Kind: "struct" } el)
                    listed.Add(el);

        var files = new List<(string, string)>();
        foreach (Decl d in top.SelectMany(t => t.Kind == "interface" ? t.Nested : [t]))
            files.Add((d.CsName + ".g.cs", File(job, w => EmitType(w, d, listed))));
        foreach (Decl i in top.Where(t => t.Kind == "interface"))
            files.Add((i.CsName + ".g.cs", File(job, w => EmitInterface(w, i, listed))));
        return files;
    }

    private static List<Decl> Parse(string layout)
    {
        var file = new Decl { Kind = "file", Name = "" };
        List<Decl> top = file.Nested;
        var stack = new Stack<Decl>();
        stack.Push(file);
        foreach (string raw in layout.Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#') || line.StartsWith('@') || line.StartsWith('$'))
                continue;
            Match m;
            if ((m = DeclRe().Match(line)).Success)
            {
                var d = new Decl
                {
                    Kind = m.Groups[1].Value,
                    Name = m.Groups[2].Value,
                    Id = ulong.Parse(m.Groups[3].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                    DataWords = m.Groups[4].Success ? int.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture) / 8 : 0,
                    Pointers = m.Groups[5].Success ? int.Parse(m.Groups[5].Value, CultureInfo.InvariantCulture) : 0,
                };
                d.Parent = stack.Peek();
                d.Parent.Nested.Add(d);
                stack.Push(d);
            }
            else if ((m = UnionRe().Match(line)).Success)
            {
                stack.Peek().UnionTagBit = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
                stack.Push(stack.Peek()); // a union's members belong to the enclosing struct or group
            }
            else if ((m = GroupRe().Match(line)).Success)
            {
                Decl owner = stack.Peek();
                var g = new Decl { Kind = "group", Name = m.Groups[1].Value, Parent = owner };
                owner.Fields.Add(new Field { Name = g.Name, Type = "group", Group = g });
                stack.Push(g);
            }
            else if ((m = MethodRe().Match(line)).Success)
            {
                stack.Peek().Methods.Add((m.Groups[1].Value, int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture),
                    m.Groups[3].Value, m.Groups[4].Value));
            }
            else if ((m = FieldRe().Match(line)).Success)
            {
                stack.Peek().Fields.Add(new Field
                {
                    Name = m.Groups[1].Value,
                    Type = m.Groups[2].Value,
                    Default = m.Groups[3].Success ? m.Groups[3].Value : null,
                    Bit = m.Groups[4].Success ? int.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture) : -1,
                    Ptr = m.Groups[5].Success ? int.Parse(m.Groups[5].Value, CultureInfo.InvariantCulture) : -1,
                    UnionTag = m.Groups[6].Success ? int.Parse(m.Groups[6].Value, CultureInfo.InvariantCulture) : -1,
                });
            }
            else if ((m = EnumerantRe().Match(line)).Success)
            {
                stack.Peek().Enumerants.Add((m.Groups[1].Value, int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)));
            }
            else if (line == "}")
            {
                stack.Pop();
            }
            else
            {
                throw new FormatException($"unrecognised layout line: {line}");
            }
        }
        return top;
    }

    private static void Collect(Decl d, List<Decl> all)
    {
        all.Add(d);
        foreach (Decl n in d.Nested)
            Collect(n, all);
        foreach (Field f in d.Fields)
            if (f.Group is { } g)
                Collect(g, all);
    }

    // Types nested in structs are prefixed with the struct's name; types in the file or interface are not.
    private static string CsName(Decl d, IReadOnlyDictionary<string, string> renames)
    {
        string own = renames.TryGetValue(d.Name, out string? r) ? r : Pascal(d.Name);
        return d.Parent is { Kind: "struct" or "group" } p ? CsName(p, renames) + own : own;
    }

    private static Decl? Resolve(Decl scope, string name)
    {
        for (Decl? s = scope; s is not null; s = s.Parent)
        {
            if (s.Name == name && s.Kind != "group")
                return s;
            if (s.Nested.FirstOrDefault(n => n.Name == name) is { } hit)
                return hit;
        }
        return null;
    }

    private static string? ListElement(string type) =>
        type.StartsWith("List(", StringComparison.Ordinal) ? type[5..^1] : null;

    private static readonly Dictionary<string, (string Cs, int Bytes, string Read)> Primitives = new()
    {
        ["Int8"] = ("sbyte", 1, "Int8"), ["UInt8"] = ("byte", 1, "UInt8"),
        ["Int16"] = ("short", 2, "Int16"), ["UInt16"] = ("ushort", 2, "UInt16"),
        ["Int32"] = ("int", 4, "Int32"), ["UInt32"] = ("uint", 4, "UInt32"),
        ["Int64"] = ("long", 8, "Int64"), ["UInt64"] = ("ulong", 8, "UInt64"),
        ["Float32"] = ("float", 4, "Float32"), ["Float64"] = ("double", 8, "Float64"),
    };

    private static string Pascal(string name) => char.ToUpperInvariant(name[0]) + name[1..];

    private static string File(Job job, Action<StringBuilder> body)
    {
        var w = new StringBuilder();
        w.Append("// <auto-generated>\n")
            .Append($"// Generated by src/Podmon.Capnp/Generator from {job.Layout}. Do not edit; rerun the generator.\n")
            .Append("// </auto-generated>\n")
            .Append("#nullable enable\n")
            .Append("using Podmon.Capnp;\n\n")
            .Append($"namespace {job.Namespace};\n");
        body(w);
        return w.ToString();
    }
}
