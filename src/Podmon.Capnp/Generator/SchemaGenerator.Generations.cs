using System.Text;

namespace Podmon.Capnp.Generator;

public static partial class SchemaGenerator
{
    /// <summary>
    /// How an older generation of a schema lays out one struct differently: it has one pointer more, the
    /// Text or Data field <paramref name="Field"/> at pointer <paramref name="OldSlot"/> (Void in the current
    /// schema), and the current schema's pointers from that slot on are one slot higher in it.
    /// <paramref name="Shifted"/>: the list element size of each of those current pointers, in order.
    /// </summary>
    internal sealed record Shift(Decl Struct, string Field, TypeRef FieldType, int OldSlot, ElementSize[] Shifted);

    /// <summary>
    /// An older generation of the schema, as the current schema's readers see it: its file, the name the
    /// readers call it by (<see cref="GenerationName"/>) and the structs it lays out differently, by the
    /// current schema's declaration. The reader of each such struct reads either layout (<see cref="EmitView"/>).
    /// </summary>
    internal sealed record Older(string File, string Name, IReadOnlyDictionary<Decl, Shift> Shifts);

    /// <summary>What the readers call an older schema file: conmon-v0.7.3.capnp → ConmonV073.</summary>
    public static string GenerationName(string previous) =>
        string.Concat(Path.GetFileNameWithoutExtension(previous).Split('-', '.', '_').Where(p => p.Length > 0).Select(Pascal));

    /// <summary>The class of the generations table for an older schema file: conmon-v0.7.3.capnp → ConmonV073Layout.</summary>
    public static string GenerationsClass(string previous) => GenerationName(previous) + "Layout";

    /// <summary>
    /// Compares the current schema with an older generation of it, struct by struct (matched by type ID):
    /// every struct must be laid out alike or differ as a <see cref="Shift"/>, and everything else must be
    /// the same; anything else is an error, as the one set of accessors could not read both.
    /// </summary>
    internal static List<Shift> Compare(Decl current, Decl old, string currentName, string oldName)
    {
        var oldAll = new List<Decl>();
        var nowAll = new List<Decl>();
        foreach (Decl d in old.Nested)
            Collect(d, oldAll);
        foreach (Decl d in current.Nested)
            Collect(d, nowAll);
        Dictionary<ulong, Decl> oldById = oldAll.Where(d => d.Kind != "group").ToDictionary(d => d.Id);
        var shifts = new List<Shift>();
        if (oldById.Count != nowAll.Count(d => d.Kind != "group"))
            throw Differs("the set of types");
        foreach (Decl now in nowAll.Where(d => d.Kind != "group"))
        {
            if (!oldById.TryGetValue(now.Id, out Decl? was) || was.Name != now.Name || was.Kind != now.Kind)
                throw Differs($"type {now.Name}");
            switch (now.Kind)
            {
                case "enum" when !now.Enumerants.SequenceEqual(was.Enumerants):
                    throw Differs($"enum {now.Name}");
                case "interface":
                    if (now.Methods.Count != was.Methods.Count)
                        throw Differs($"interface {now.Name}");
                    for (int i = 0; i < now.Methods.Count; i++)
                    {
                        Method m = now.Methods[i], o = was.Methods[i];
                        if (m.Name != o.Name || m.Ordinal != o.Ordinal
                            || CompareStruct(m.Params, o.Params) is not null || CompareStruct(m.Results, o.Results) is not null)
                            throw Differs($"method {now.Name}.{m.Name}");
                    }
                    break;
                case "struct":
                    if (CompareStruct(now, was) is { } shift)
                        shifts.Add(shift);
                    break;
            }
        }
        return shifts;

        NotSupportedException Differs(string what) =>
            new($"{oldName} and {currentName} differ in {what} beyond a pointer that became Void");
    }

    /// <summary>Null if both lay the struct out alike; its <see cref="Shift"/> if it is one; throws otherwise.</summary>
    private static Shift? CompareStruct(Decl now, Decl was)
    {
        List<(string Path, Field F)> a = Flatten(now, ""), b = Flatten(was, "");
        bool Same(Field x, Field y) => x.Type.ToString() == y.Type.ToString() && x.Bit == y.Bit && x.Ptr == y.Ptr
            && x.UnionTag == y.UnionTag && x.Default == y.Default && (x.Group is null) == (y.Group is null)
            && x.Group?.UnionTagBit == y.Group?.UnionTagBit;
        if (a.Count != b.Count || a.Zip(b).Any(p => p.First.Path != p.Second.Path))
            throw Unreadable("its fields");
        if (now.DataWords != was.DataWords || now.UnionTagBit != was.UnionTagBit)
            throw Unreadable("its data section");
        if (now.Pointers == was.Pointers && a.Zip(b).All(p => Same(p.First.F, p.Second.F)))
            return null;

        // The one field that is a pointer in the older generation and Void in the current one.
        var moved = a.Zip(b).Where(p => p.First.F.Type.Name == "Void" && p.Second.F.Ptr >= 0).ToList();
        if (moved.Count != 1 || moved[0].Second.F.Type.Name is not ("Text" or "Data") || moved[0].First.F.UnionTag >= 0
            || was.Pointers != now.Pointers + 1)
            throw Unreadable("more than one Void field that was a Text or Data pointer");
        (string movedPath, Field movedOld) = moved[0].Second;
        int oldSlot = movedOld.Ptr;
        foreach (((string path, Field x), (_, Field y)) in a.Zip(b))
        {
            if (path == movedPath)
                continue;
            int expected = x.Ptr >= oldSlot ? x.Ptr + 1 : x.Ptr;
            if (x.Type.ToString() != y.Type.ToString() || x.Bit != y.Bit || y.Ptr != expected || x.UnionTag != y.UnionTag
                || x.Default != y.Default)
                throw Unreadable($"{path}, which is not where the shift puts it");
        }
        var shifted = new ElementSize[now.Pointers - oldSlot];
        for (int slot = oldSlot; slot < now.Pointers; slot++)
        {
            var kinds = a.Where(p => p.F.Ptr == slot).Select(p => ListSize(p.F.Type, $"{now.Name}.{p.Path}")).Distinct().ToList();
            if (kinds.Count != 1)
                throw Unreadable($"pointer {slot}, which no field or fields of different kinds use");
            shifted[slot - oldSlot] = kinds[0];
        }
        // A group's reader is a view of the struct's own reader, which alone is told the layout.
        if (now.Fields.Any(f => f.Group is not null))
            throw Unreadable("its groups, whose readers would not know which layout they read");
        return new Shift(now, movedPath, movedOld.Type, oldSlot, shifted);

        NotSupportedException Unreadable(string what) =>
            new($"struct {now.Name} differs between the generations in {what}: one set of accessors cannot read both");
    }

    /// <summary>A struct's slot fields, through its groups, with their paths (group.field).</summary>
    private static List<(string Path, Field F)> Flatten(Decl d, string prefix)
    {
        var all = new List<(string, Field)>();
        foreach (Field f in d.Fields)
        {
            all.Add((prefix + f.Name, f));
            if (f.Group is { } g)
                all.AddRange(Flatten(g, prefix + f.Name + "."));
        }
        return all;
    }

    /// <summary>
    /// The element size a pointer of this type is encoded with; only lists (Text and Data are byte lists)
    /// can be told apart by their encoding.
    /// </summary>
    private static ElementSize ListSize(TypeRef t, string where) => t.Name switch
    {
        "Text" or "Data" => ElementSize.Byte,
        "List" => t.Element!.Name switch
        {
            "Void" => ElementSize.Void,
            "Bool" => ElementSize.Bit,
            "enum" => ElementSize.TwoBytes,
            "struct" => ElementSize.InlineComposite,
            "Text" or "Data" or "List" or "AnyPointer" => ElementSize.Pointer,
            string p when Primitives.TryGetValue(p, out var prim) => prim.Bytes switch
            {
                1 => ElementSize.Byte,
                2 => ElementSize.TwoBytes,
                4 => ElementSize.FourBytes,
                _ => ElementSize.EightBytes,
            },
            _ => throw new NotSupportedException($"{where}: a list of {t.Element}"),
        },
        _ => throw new NotSupportedException($"{where}: a shifted {t} pointer, which its encoding does not tell from the others"),
    };

    /// <summary>
    /// The table of the structs an older generation of the schema lays out differently (see <see cref="Compare"/>),
    /// with, per interface, the method whose request or response is one of them.
    /// </summary>
    private static void EmitGenerations(StringBuilder w, Decl current, List<Shift> shifts, string currentName, string oldName)
    {
        List<Decl> ends = current.Nested.SelectMany(d => d.Methods).SelectMany(m => new[] { m.Params, m.Results })
            .SelectMany(p => p.Fields).Select(f => f.Type.Target).OfType<Decl>().ToList();
        if (shifts.FirstOrDefault(s => !ends.Contains(s.Struct)) is { } inner)
            throw new NotSupportedException($"{inner.Struct.Name} differs between {oldName} and {currentName} but is not a method's request or response");
        string cls = GenerationsClass(oldName);
        w.Append($"\n/// <summary>\n/// The structs {oldName} lays out differently from {currentName}. Each has one pointer more in\n");
        w.Append($"/// {oldName}: a Text or Data field that {currentName} has as Void, at pointer <see cref=\"Shape.OldSlot\"/>,\n");
        w.Append($"/// and {currentName}'s pointers from that slot on are one slot higher there. Nothing else differs.\n");
        w.Append("/// </summary>\n");
        w.Append($"public static class {cls}\n{{\n");
        w.Append("    /// <summary>\n");
        w.Append($"    /// A struct that differs: {oldName} has <paramref name=\"Field\"/> at pointer <paramref name=\"OldSlot\"/>;\n");
        w.Append($"    /// <paramref name=\"Shifted\"/> are the list element sizes of {currentName}'s pointers from that slot on.\n");
        w.Append("    /// </summary>\n");
        w.Append("    public sealed record Shape(string Struct, string Field, int OldSlot, ElementSize[] Shifted)\n    {\n");
        w.Append($"        /// <summary>The struct's pointer count in {currentName}.</summary>\n");
        w.Append("        public int CurrentPointers => OldSlot + Shifted.Length;\n\n");
        w.Append($"        /// <summary>The struct's pointer count in {oldName}.</summary>\n");
        w.Append("        public int OldPointers => CurrentPointers + 1;\n    }\n");
        foreach (Shift s in shifts)
        {
            List<string> after = Flatten(s.Struct, "").Where(p => p.F.Ptr >= s.OldSlot).Select(p => p.Path).ToList();
            w.Append($"\n    /// <summary>{s.Struct.Name} (@0x{s.Struct.Id:x16}): {s.Field} :{s.FieldType} is pointer {s.OldSlot} in {oldName}");
            w.Append(after.Count == 0 ? ", its last.</summary>\n" : $"; {string.Join(", ", after)} {(after.Count == 1 ? "follows" : "follow")} it.</summary>\n");
            w.Append($"    public static readonly Shape {s.Struct.CsName} = new(\"{s.Struct.Name}\", \"{s.Field}\", {s.OldSlot}, [");
            w.Append(string.Join(", ", s.Shifted.Select(e => $"ElementSize.{e}")));
            w.Append("]);\n");
        }
        w.Append("\n    /// <summary>Every struct that differs.</summary>\n");
        w.Append($"    public static readonly Shape[] All = [{string.Join(", ", shifts.Select(s => s.Struct.CsName))}];\n");
        foreach (Decl i in current.Nested.Where(d => d.Kind == "interface"))
        {
            foreach ((string which, Func<Method, Decl> side) in new (string, Func<Method, Decl>)[] { ("request", m => m.Params), ("response", m => m.Results) })
            {
                w.Append($"\n    /// <summary>The shape of the {which} struct of a method of {i.Name}, or null where both agree.</summary>\n");
                w.Append($"    public static Shape? {Pascal(which)}({i.CsName}Method method) => method switch\n    {{\n");
                foreach (Method m in i.Methods)
                {
                    // The request or response struct is a parameter list's only field.
                    Decl p = side(m);
                    if (p.Fields is [{ Type: { Name: "struct", Target: { } target } }]
                        && shifts.FirstOrDefault(s => s.Struct == target) is { } shift)
                        w.Append($"        {i.CsName}Method.{Pascal(m.Name)} => {shift.Struct.CsName},\n");
                }
                w.Append("        _ => null,\n    };\n");
            }
        }
        w.Append("}\n");
    }
}
