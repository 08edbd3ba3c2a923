using System.Globalization;
using Podmon.Capnp.Generator.Schema;

namespace Podmon.Capnp.Generator;

public static partial class SchemaGenerator
{
    private const ushort NoDiscriminant = 0xffff;

    /// <summary>The capnp version that compiled a request (its <c>capnpVersion</c>: major, minor, micro).</summary>
    public static (int Major, int Minor, int Micro) CapnpVersion(ReadOnlySpan<byte> request)
    {
        var ctx = new ReadContext();
        CapnpVersionReader v = new CodeGeneratorRequestReader(new MessageReader(request, ref ctx).Root).CapnpVersion;
        return (v.Major, v.Minor, v.Micro);
    }

    /// <summary>The file names a request asks code for (as capnp was given them, without a leading '/').</summary>
    public static List<string> RequestedFiles(ReadOnlySpan<byte> request)
    {
        var ctx = new ReadContext();
        CodeGeneratorRequestRequestedFileListReader files = new CodeGeneratorRequestReader(new MessageReader(request, ref ctx).Root).RequestedFiles;
        var names = new List<string>();
        for (int i = 0; i < files.Count; i++)
            names.Add(files[i].FilenameString);
        return names;
    }

    /// <summary>
    /// Reads a CodeGeneratorRequest (one framed message, as capnp writes it to a plugin's stdin) into the
    /// model of its one requested file, <paramref name="schema"/> (matched by file name). Everything is in
    /// code order, union members where the first of them is, as <c>capnp compile -ocapnp</c> lists them.
    /// </summary>
    internal static Decl Load(ReadOnlySpan<byte> request, string schema)
    {
        var ctx = new ReadContext { TraversalLimitWords = long.MaxValue };
        var req = new CodeGeneratorRequestReader(new MessageReader(request, ref ctx).Root);
        NodeListReader nodes = req.Nodes;
        var index = new Dictionary<ulong, int>();
        for (int i = 0; i < nodes.Count; i++)
            index.Add(nodes[i].Id, i);

        CodeGeneratorRequestRequestedFileListReader requested = req.RequestedFiles;
        if (requested.Count != 1 || Path.GetFileName(requested[0].FilenameString) != schema)
            throw new FormatException($"the request is not for {schema} alone");
        var file = new Decl { Kind = "file", Name = "", Id = requested[0].Id };

        // Named types first, so that fields can refer to any of them; then their members.
        var byId = new Dictionary<ulong, Decl>();
        var named = new List<Decl>();
        Declare(file, nodes[index[file.Id]], nodes, index, byId, named);
        foreach (Decl d in named)
        {
            NodeReader node = nodes[index[d.Id]];
            switch (d.Kind)
            {
                case "struct":
                    Members(d, node, nodes, index, byId);
                    break;
                case "enum":
                    EnumerantListReader enumerants = node.Enum.Enumerants;
                    foreach (int i in CodeOrder(enumerants.Count, enumerants.List, (l, i) => new EnumerantReader(l.GetStruct(i)).CodeOrder))
                        d.Enumerants.Add((enumerants[i].NameString, i));
                    break;
                case "interface":
                    MethodListReader methods = node.Interface.Methods;
                    if (node.Interface.Superclasses.Count != 0)
                        throw new NotSupportedException($"{d.Name}: interface inheritance");
                    foreach (int i in CodeOrder(methods.Count, methods.List, (l, i) => new MethodReader(l.GetStruct(i)).CodeOrder))
                    {
                        string name = methods[i].NameString;
                        d.Methods.Add(new Method(name, i,
                            ParamStruct(d, name + "Params", methods[i].ParamStructType, nodes, index, byId),
                            ParamStruct(d, name + "Results", methods[i].ResultStructType, nodes, index, byId)));
                    }
                    break;
            }
        }
        return file;
    }

    private static void Declare(Decl scope, NodeReader node, NodeListReader nodes, Dictionary<ulong, int> index,
        Dictionary<ulong, Decl> byId, List<Decl> named)
    {
        NodeNestedNodeListReader nested = node.NestedNodes;
        for (int i = 0; i < nested.Count; i++)
        {
            NodeReader n = nodes[index[nested[i].Id]];
            string? kind = n.Which switch
            {
                NodeWhich.Struct => "struct",
                NodeWhich.Enum => "enum",
                NodeWhich.Interface => "interface",
                _ => null, // constants and annotations: nothing to access
            };
            if (kind is null)
                continue;
            if (n.IsGeneric)
                throw new NotSupportedException($"{n.DisplayNameString}: generic types");
            var d = new Decl { Kind = kind, Name = nested[i].NameString, Id = n.Id, Parent = scope };
            scope.Nested.Add(d);
            byId.Add(d.Id, d);
            named.Add(d);
            Declare(d, n, nodes, index, byId, named);
        }
    }

    private delegate ushort CodeOrderOf(ListReader list, int index);

    /// <summary>The index order of a list's members by their <c>codeOrder</c>.</summary>
    private static List<int> CodeOrder(int count, ListReader list, CodeOrderOf codeOrder)
    {
        var order = new (ushort CodeOrder, int Index)[count];
        for (int i = 0; i < count; i++)
            order[i] = (codeOrder(list, i), i);
        return order.OrderBy(o => o.CodeOrder).Select(o => o.Index).ToList();
    }

    /// <summary>A struct's or group's size, union and fields (groups recursively).</summary>
    private static void Members(Decl d, NodeReader node, NodeListReader nodes, Dictionary<ulong, int> index, Dictionary<ulong, Decl> byId)
    {
        NodeStructReader s = node.Struct_;
        if (d.Kind == "struct")
        {
            d.DataWords = s.DataWordCount;
            d.Pointers = s.PointerCount;
        }
        if (s.DiscriminantCount > 0)
            d.UnionTagBit = (int)s.DiscriminantOffset * 16;
        FieldListReader fields = s.Fields;
        List<int> order = CodeOrder(fields.Count, fields.List, (l, i) => new FieldReader(l.GetStruct(i)).CodeOrder);
        // The union's members all go where its first member is (they are consecutive in code order anyway).
        var union = new List<int>();
        foreach (int i in order)
            if (fields[i].DiscriminantValue != NoDiscriminant)
                union.Add(i);
        int first = union.Count > 0 ? order.IndexOf(union[0]) : -1;
        order.RemoveAll(union.Contains);
        if (first >= 0)
            order.InsertRange(first, union);

        foreach (int i in order)
        {
            FieldReader f = fields[i];
            string name = f.NameString;
            int tag = f.DiscriminantValue == NoDiscriminant ? -1 : f.DiscriminantValue;
            if (f.Which == FieldWhich.Group)
            {
                ulong id = f.Group.TypeId;
                var g = new Decl { Kind = "group", Name = name, Parent = d, Id = id };
                Members(g, nodes[index[id]], nodes, index, byId);
                d.Fields.Add(new Field { Name = name, Type = new TypeRef("group"), Group = g, UnionTag = tag });
                continue;
            }
            FieldSlotReader slot = f.Slot;
            TypeRef type = Type(slot.Type, byId, $"{d.Name}.{name}");
            var field = new Field { Name = name, Type = type, UnionTag = tag };
            int bits = DataBits(type);
            if (bits < 0)
                field.Ptr = (int)slot.Offset;
            else
            {
                field.Bit = (int)slot.Offset * bits;
                field.Default = Default(slot.DefaultValue, type);
            }
            d.Fields.Add(field);
        }
    }

    /// <summary>A method's params or results: capnp's struct for the parameter list, named after the method.</summary>
    private static Decl ParamStruct(Decl scope, string name, ulong id, NodeListReader nodes, Dictionary<ulong, int> index,
        Dictionary<ulong, Decl> byId)
    {
        NodeReader node = nodes[index[id]];
        if (node.ScopeId != 0)
            throw new NotSupportedException($"{scope.Name}.{name}: a named struct as a parameter list");
        // No TypeId: the struct is only ever reached through the method's params/results pointer.
        var d = new Decl { Kind = "struct", Name = name, Parent = scope };
        Members(d, node, nodes, index, byId);
        return d;
    }

    private static TypeRef Type(TypeReader t, Dictionary<ulong, Decl> byId, string where)
    {
        Decl Target(ulong id) => byId.TryGetValue(id, out Decl? d)
            ? d
            : throw new NotSupportedException($"{where}: a type from another file");
        return t.Which switch
        {
            TypeWhich.Void => new("Void"),
            TypeWhich.Bool => new("Bool"),
            TypeWhich.Int8 => new("Int8"),
            TypeWhich.Int16 => new("Int16"),
            TypeWhich.Int32 => new("Int32"),
            TypeWhich.Int64 => new("Int64"),
            TypeWhich.Uint8 => new("UInt8"),
            TypeWhich.Uint16 => new("UInt16"),
            TypeWhich.Uint32 => new("UInt32"),
            TypeWhich.Uint64 => new("UInt64"),
            TypeWhich.Float32 => new("Float32"),
            TypeWhich.Float64 => new("Float64"),
            TypeWhich.Text => new("Text"),
            TypeWhich.Data => new("Data"),
            TypeWhich.List => new("List", Element: Type(t.List.ElementType, byId, where)),
            TypeWhich.Enum => new("enum", Target(t.Enum.TypeId)),
            TypeWhich.Struct => new("struct", Target(t.Struct_.TypeId)),
            TypeWhich.Interface => throw new NotSupportedException($"{where}: capabilities"),
            TypeWhich.AnyPointer when t.AnyPointer.Which == TypeAnyPointerWhich.Unconstrained
                && t.AnyPointer.Unconstrained.Which == TypeAnyPointerUnconstrainedWhich.AnyKind => new("AnyPointer"),
            _ => throw new NotSupportedException($"{where}: type {t.Which}"),
        };
    }

    /// <summary>A data field's width in bits (Void 0); -1 for pointers.</summary>
    private static int DataBits(TypeRef t) => t.Name switch
    {
        "Void" => 0,
        "Bool" => 1,
        "enum" => 16,
        _ when Primitives.TryGetValue(t.Name, out var prim) => prim.Bytes * 8,
        _ => -1,
    };

    /// <summary>
    /// The default of a data field if not zero (where capnp's listing shows <c>= value</c>); the accessors
    /// XOR the field with it.
    /// </summary>
    private static string? Default(ValueReader v, TypeRef t)
    {
        CultureInfo c = CultureInfo.InvariantCulture;
        string? value = v.Which switch
        {
            ValueWhich.Void => null,
            ValueWhich.Bool => v.Bool ? "true" : null,
            ValueWhich.Int8 => v.Int8 != 0 ? v.Int8.ToString(c) : null,
            ValueWhich.Int16 => v.Int16 != 0 ? v.Int16.ToString(c) : null,
            ValueWhich.Int32 => v.Int32 != 0 ? v.Int32.ToString(c) : null,
            ValueWhich.Int64 => v.Int64 != 0 ? v.Int64.ToString(c) : null,
            ValueWhich.Uint8 => v.Uint8 != 0 ? v.Uint8.ToString(c) : null,
            ValueWhich.Uint16 => v.Uint16 != 0 ? v.Uint16.ToString(c) : null,
            ValueWhich.Uint32 => v.Uint32 != 0 ? v.Uint32.ToString(c) : null,
            ValueWhich.Uint64 => v.Uint64 != 0 ? v.Uint64.ToString(c) : null,
            ValueWhich.Enum => v.Enum != 0 ? v.Enum.ToString(c) : null,
            ValueWhich.Float32 when v.Float32 == 0 => null,
            ValueWhich.Float64 when v.Float64 == 0 => null,
            _ => throw new NotSupportedException($"a {t} field with a default of kind {v.Which}"),
        };
        return value;
    }
}
