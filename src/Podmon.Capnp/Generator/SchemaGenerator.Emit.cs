using System.Text;

namespace Podmon.Capnp.Generator;

public static partial class SchemaGenerator
{
    private static void EmitType(StringBuilder w, Decl d, HashSet<Decl> listed, Older? older)
    {
        if (d.Kind == "enum")
        {
            w.Append($"\n/// <summary>capnp enum {d.Name} (@0x{d.Id:x16}).</summary>\n");
            w.Append($"public enum {d.CsName} : ushort\n{{\n");
            foreach ((string name, int value) in d.Enumerants)
                w.Append($"    {Pascal(name)} = {value},\n");
            w.Append("}\n");
            return;
        }

        EmitView(w, d, reader: true, older);
        EmitView(w, d, reader: false, older);
        if (listed.Contains(d))
            EmitListWrappers(w, d);
        foreach (Field f in d.Fields)
            if (f.Group is { } g)
                EmitType(w, g, listed, older);
        foreach (Decl n in d.Nested)
            EmitType(w, n, listed, older);
    }

    /// <summary>
    /// A struct's reader or builder; the reader of a struct an older generation lays out differently
    /// (<paramref name="older"/>) reads either layout (SchemaGenerator.Layouts.cs).
    /// </summary>
    private static void EmitView(StringBuilder w, Decl d, bool reader, Older? older)
    {
        string type = d.CsName + (reader ? "Reader" : "Builder");
        string raw = reader ? "StructReader" : "StructBuilder";
        bool isGroup = d.Kind == "group";
        Shift? shift = reader && older is not null && older.Shifts.TryGetValue(d, out Shift? found) ? found : null;

        if (d.UnionTagBit >= 0 && reader)
        {
            w.Append($"\n/// <summary>Union discriminant of {d.Name}.</summary>\n");
            w.Append($"public enum {d.CsName}Which : ushort\n{{\n");
            foreach (Field f in d.Fields.Where(f => f.UnionTag >= 0))
                w.Append($"    {Pascal(f.Name)} = {f.UnionTag},\n");
            w.Append("}\n");
        }

        w.Append('\n');
        w.Append(isGroup
            ? $"/// <summary>Group {d.Name}: a view of the enclosing struct's fields.</summary>\n"
            : $"/// <summary>capnp struct {d.Name}{(d.Id != 0 ? $" (@0x{d.Id:x16})" : "")}: {d.DataWords} data words, {d.Pointers} pointers.</summary>\n");
        if (shift is not null)
            EmitLayoutRemarks(w, d, shift, older!);
        w.Append(reader ? $"public readonly ref struct {type}\n{{\n" : $"public readonly struct {type}\n{{\n");
        if (!isGroup)
        {
            if (d.Id != 0)
                w.Append($"    public const ulong TypeId = 0x{d.Id:x16};\n");
            w.Append($"    public const ushort DataWords = {d.DataWords};\n");
            w.Append($"    public const ushort PointerCount = {d.Pointers};\n\n");
        }
        w.Append($"    private readonly {raw} _s;\n");
        if (shift is not null)
            EmitLayoutField(w, shift, older!);
        w.Append('\n');
        w.Append($"    public {type}({raw} s) => _s = s;\n\n");
        if (shift is not null)
            EmitLayoutConstructor(w, type, older!);
        if (!isGroup)
        {
            if (reader)
            {
                w.Append($"    public static {type} From(PointerReader p) => new(p.GetStruct());\n\n");
            }
            else
            {
                w.Append($"    public static {type} Init(PointerBuilder p) => new(p.InitStruct(DataWords, PointerCount));\n\n");
                w.Append($"    public static {type} InitRoot(MessageBuilder m) => Init(m.Root);\n\n");
            }
        }
        w.Append($"    public {raw} Struct => _s;\n");
        if (shift is not null)
            EmitLayoutProperty(w, older!);

        if (d.UnionTagBit >= 0)
        {
            int at = d.UnionTagBit / 8;
            w.Append(reader
                ? $"\n    public {d.CsName}Which Which => ({d.CsName}Which)_s.ReadUInt16({at});\n"
                : $"\n    public {d.CsName}Which Which\n    {{\n        get => ({d.CsName}Which)_s.ReadUInt16({at});\n        set => _s.WriteUInt16({at}, (ushort)value);\n    }}\n");
        }

        foreach (Field f in d.Fields)
        {
            if (reader)
                EmitReaderField(w, d, f, shift, older);
            else
                EmitBuilderField(w, d, f);
        }
        w.Append("}\n");
    }

    private static void EmitReaderField(StringBuilder w, Decl d, Field f, Shift? shift, Older? older)
    {
        string p = Pascal(f.Name), bare = Member(d, f.Name);
        string t = f.Type.Name;
        if (f.Group is { } g)
        {
            w.Append($"\n    public {g.CsName}Reader {bare} => new(_s);\n");
            return;
        }
        if (t == "Void" && shift is not null && f.Name == shift.Field)
        {
            EmitOlderField(w, p, bare, shift, older!);
            return;
        }
        if (t == "Void")
            return;
        w.Append('\n');
        if (f.Ptr < 0)
        {
            w.Append($"    public {DataType(f.Type)} {bare} => {DataRead(f)};\n");
            return;
        }
        string i = Slot(f, shift, older);
        switch (t)
        {
            case "Text":
                w.Append($"    /// <summary>UTF-8, without the NUL terminator.</summary>\n");
                w.Append($"    public ReadOnlySpan<byte> {bare} => _s.ReadText({i});\n");
                w.Append($"    public string {p}String => _s.ReadTextString({i});\n");
                break;
            case "Data":
                w.Append($"    public ReadOnlySpan<byte> {bare} => _s.ReadData({i});\n");
                break;
            case "AnyPointer":
                w.Append($"    public PointerReader {bare} => _s.GetPointer({i});\n");
                break;
            case "List":
                TypeRef e = f.Type.Element!;
                w.Append(ListElementKind(e) switch
                {
                    "text" => $"    public TextListReader {bare} => _s.ReadTextList({i});\n",
                    "struct" => $"    public {e.Target!.CsName}ListReader {bare} => new(_s.ReadList({i}));\n",
                    "primitive" => $"    public PrimitiveListReader<{ElementCs(e)}> {bare} => _s.ReadList<{ElementCs(e)}>({i});\n",
                    _ => $"    public ListReader {bare} => _s.ReadList({i});\n",
                });
                break;
            default:
                w.Append($"    public {f.Type.Target!.CsName}Reader {bare} => new(_s.ReadStruct({i}));\n");
                break;
        }
        w.Append($"    public bool Has{p} => _s.HasPointer({i});\n");
        if (t != "AnyPointer")
            w.Append($"    public PointerReader {p}Pointer => _s.GetPointer({i});\n");
    }

    private static void EmitBuilderField(StringBuilder w, Decl d, Field f)
    {
        string p = Pascal(f.Name), bare = Member(d, f.Name);
        string t = f.Type.Name;
        // Setting a union member also sets the discriminant.
        string select = f.UnionTag >= 0 ? $"Which = {d.CsName}Which.{p};" : "";
        if (f.Group is { } g)
        {
            if (select.Length == 0)
                w.Append($"\n    public {g.CsName}Builder {bare} => new(_s);\n");
            else
                w.Append($"\n    /// <summary>Selects this union member (without clearing its fields) and returns its view.</summary>\n" +
                    $"    public {g.CsName}Builder Init{p}()\n    {{\n        {select}\n        return new(_s);\n    }}\n");
            return;
        }
        if (t == "Void")
        {
            if (f.UnionTag >= 0)
                w.Append($"\n    public void Set{p}() => Which = {d.CsName}Which.{p};\n");
            return;
        }
        w.Append('\n');
        if (f.Ptr < 0)
        {
            w.Append($"    public {DataType(f.Type)} {bare}\n    {{\n        get => {DataRead(f)};\n");
            w.Append(select.Length == 0
                ? $"        set => {DataWrite(f)};\n    }}\n"
                : $"        set\n        {{\n            {select}\n            {DataWrite(f)};\n        }}\n    }}\n");
            return;
        }
        int i = f.Ptr;
        string slot = $"_s.GetPointer({i})";
        string Body(string expr) => select.Length == 0 ? $" => {expr};\n" : $"\n    {{\n        {select}\n        return {expr};\n    }}\n";
        string Stmt(string expr) => select.Length == 0 ? $" => {expr};\n" : $"\n    {{\n        {select}\n        {expr};\n    }}\n";
        switch (t)
        {
            case "Text":
                w.Append($"    public void Set{p}(ReadOnlySpan<byte> utf8){Stmt($"{slot}.SetText(utf8)")}");
                w.Append($"    public void Set{p}(ReadOnlySpan<char> text){Stmt($"{slot}.SetText(text)")}");
                break;
            case "Data":
                w.Append($"    public void Set{p}(ReadOnlySpan<byte> data){Stmt($"{slot}.SetData(data)")}");
                break;
            case "AnyPointer":
                if (select.Length == 0)
                    w.Append($"    public PointerBuilder {bare} => {slot};\n");
                else
                    w.Append($"    /// <summary>Selects this union member and returns its pointer slot.</summary>\n    public PointerBuilder Init{p}(){Body(slot)}");
                break;
            case "List":
                TypeRef e = f.Type.Element!;
                string? r = ListElementKind(e) switch
                {
                    "text" => $"TextListBuilder Init{p}(int count)|{slot}.InitTextList(count)",
                    "struct" => $"{e.Target!.CsName}ListBuilder Init{p}(int count)|new({slot}.InitStructList(count, {e.Target!.CsName}Builder.DataWords, {e.Target!.CsName}Builder.PointerCount))",
                    "primitive" => $"PrimitiveListBuilder<{ElementCs(e)}> Init{p}(int count)|{slot}.InitList<{ElementCs(e)}>(count)",
                    "bool" => $"ListBuilder Init{p}(int count)|{slot}.InitList(ElementSize.Bit, count)",
                    _ => null,
                };
                if (r is not null)
                    w.Append($"    public {r.Split('|')[0]}{Body(r.Split('|')[1])}");
                break;
            default:
                string s = f.Type.Target!.CsName;
                w.Append($"    public {s}Builder Init{p}(){Body($"{s}Builder.Init({slot})")}");
                break;
        }
        if (t != "AnyPointer")
        {
            if (select.Length != 0)
                w.Append("    /// <summary>The raw slot (e.g. to copy from a reader); does not select the union member.</summary>\n");
            w.Append($"    public PointerBuilder {p}Pointer => {slot};\n");
        }
    }

    private static void EmitListWrappers(StringBuilder w, Decl d)
    {
        string n = d.CsName;
        w.Append($"\npublic readonly ref struct {n}ListReader\n{{\n");
        w.Append("    private readonly ListReader _list;\n\n");
        w.Append($"    public {n}ListReader(ListReader list) => _list = list;\n\n");
        w.Append("    public int Count => _list.Count;\n\n    public ListReader List => _list;\n\n");
        w.Append($"    public {n}Reader this[int index] => new(_list.GetStruct(index));\n}}\n");
        w.Append($"\npublic readonly struct {n}ListBuilder\n{{\n");
        w.Append("    private readonly ListBuilder _list;\n\n");
        w.Append($"    public {n}ListBuilder(ListBuilder list) => _list = list;\n\n");
        w.Append("    public int Count => _list.Count;\n\n    public ListBuilder List => _list;\n\n");
        w.Append($"    public {n}Builder this[int index] => new(_list.GetStruct(index));\n}}\n");
    }

    private static void EmitInterface(StringBuilder w, Decl i, HashSet<Decl> listed, Older? older)
    {
        w.Append($"\n/// <summary>capnp interface {i.Name}.</summary>\n");
        w.Append($"public static class {i.CsName}\n{{\n");
        w.Append($"    public const ulong InterfaceId = 0x{i.Id:x16};\n}}\n");
        w.Append($"\n/// <summary>Method ordinals of interface {i.Name}.</summary>\n");
        w.Append($"public enum {i.CsName}Method : ushort\n{{\n");
        foreach (Method m in i.Methods)
            w.Append($"    {Pascal(m.Name)} = {m.Ordinal},\n");
        w.Append("}\n");
        foreach (Method m in i.Methods)
        {
            EmitType(w, m.Params, listed, older);
            EmitType(w, m.Results, listed, older);
        }
    }

    // Members every view has (groups: Struct and Which); a field of the same name gets a trailing
    // underscore (schema.capnp's Node.struct, Type.struct, Value.struct).
    private static readonly HashSet<string> Reserved = ["Struct", "Which", "TypeId", "DataWords", "PointerCount", "From", "Init", "InitRoot"];

    private static string Member(Decl d, string name)
    {
        string p = Pascal(name);
        bool clash = d.Kind == "group" ? p is "Struct" or "Which" : Reserved.Contains(p);
        return clash ? p + "_" : p;
    }

    private static string ListElementKind(TypeRef e) => e.Name switch
    {
        "Text" => "text",
        "Bool" => "bool",
        "enum" => "primitive",
        "struct" => "struct",
        _ when Primitives.ContainsKey(e.Name) => "primitive",
        _ => "other",
    };

    private static string ElementCs(TypeRef e) =>
        Primitives.TryGetValue(e.Name, out var prim) ? prim.Cs : e.Target!.CsName;

    private static string DataType(TypeRef t) =>
        t.Name == "Bool" ? "bool" : Primitives.TryGetValue(t.Name, out var prim) ? prim.Cs : t.Target!.CsName;

    private static string DataRead(Field f)
    {
        if (f.Type.Name == "Bool")
            return $"_s.ReadBool({f.Bit}{(f.Default == "true" ? ", true" : "")})";
        if (Primitives.TryGetValue(f.Type.Name, out var prim))
            return $"_s.Read{prim.Read}({f.Bit / 8}{DefaultArg(f, prim.Cs)})";
        return $"({f.Type.Target!.CsName})_s.ReadUInt16({f.Bit / 8}{DefaultArg(f, "ushort")})";
    }

    private static string DataWrite(Field f)
    {
        if (f.Type.Name == "Bool")
            return $"_s.WriteBool({f.Bit}, value{(f.Default == "true" ? ", true" : "")})";
        if (Primitives.TryGetValue(f.Type.Name, out var prim))
            return $"_s.Write{prim.Read}({f.Bit / 8}, value{DefaultArg(f, prim.Cs)})";
        return $"_s.WriteUInt16({f.Bit / 8}, (ushort)value{DefaultArg(f, "ushort")})";
    }

    private static string DefaultArg(Field f, string cs) => f.Default is null ? "" : $", ({cs}){f.Default}";
}
