using System.Text;

namespace Podmon.Capnp.Generator;

/// <summary>
/// The reader of a struct an older generation of the schema lays out differently (a <see cref="Shift"/>)
/// reads either layout, as its constructor is told: it keeps 0 or 1, the accessors of the pointers the
/// older layout has one slot higher add it to their slot (an add, no branch), and the older generation's
/// own field (Void in this schema) gets an accessor that is empty in this schema's layout. So the general
/// <see cref="StructReader"/>, which every message is read with, knows nothing of generations, and a
/// handler reads both through one set of accessors.
/// </summary>
public static partial class SchemaGenerator
{
    /// <summary>The field of such a reader that holds its 0 or 1: ConmonV073 → _conmonV073.</summary>
    private static string LayoutField(Older older) => "_" + Camel(older.Name);

    private static string Camel(string name) => char.ToLowerInvariant(name[0]) + name[1..];

    /// <summary>The slot expression of a pointer field's accessors.</summary>
    private static string Slot(Field f, Shift? shift, Older? older) =>
        shift is not null && f.Ptr >= shift.OldSlot ? $"{f.Ptr} + {LayoutField(older!)}" : f.Ptr.ToString();

    private static void EmitLayoutRemarks(StringBuilder w, Decl d, Shift shift, Older older) =>
        w.Append($"/// <remarks>Reads {older.File}'s layout too, where constructed for it ({d.Pointers + 1} pointers: {shift.Field} at {shift.OldSlot}, "
            + (shift.Shifted.Length == 0 ? "its last" : "the later ones one slot higher") + ").</remarks>\n");

    private static void EmitLayoutField(StringBuilder w, Shift shift, Older older)
    {
        w.Append($"    // 1 for a struct in {older.File}'s layout: it has {shift.Field} at pointer {shift.OldSlot}, this schema's pointers from there on one higher.\n");
        w.Append($"    private readonly int {LayoutField(older)};\n");
    }

    private static void EmitLayoutConstructor(StringBuilder w, string type, Older older)
    {
        string flag = Camel(older.Name);
        w.Append($"    /// <summary>A struct in {older.File}'s layout if <paramref name=\"{flag}\"/>, else in this schema's.</summary>\n");
        w.Append($"    public {type}(StructReader s, bool {flag})\n    {{\n        _s = s;\n");
        w.Append($"        {LayoutField(older)} = {flag} ? 1 : 0;\n    }}\n\n");
    }

    private static void EmitLayoutProperty(StringBuilder w, Older older)
    {
        w.Append($"\n    /// <summary>Whether the struct is read in {older.File}'s layout.</summary>\n");
        w.Append($"    public bool Is{older.Name} => {LayoutField(older)} != 0;\n");
    }

    /// <summary>The older generation's Text or Data field, where this schema has Void.</summary>
    private static void EmitOlderField(StringBuilder w, string pascal, string member, Shift shift, Older older)
    {
        string old = LayoutField(older), slot = shift.OldSlot.ToString();
        w.Append($"\n    /// <summary>{older.File}'s {shift.Field} :{shift.FieldType} (its pointer {slot}); empty in this schema's layout, where it is Void.</summary>\n");
        if (shift.FieldType.Name == "Text")
        {
            w.Append($"    public ReadOnlySpan<byte> {member} => {old} != 0 ? _s.ReadText({slot}) : default;\n");
            w.Append($"    public string {pascal}String => {old} != 0 ? _s.ReadTextString({slot}) : \"\";\n");
        }
        else
        {
            w.Append($"    public ReadOnlySpan<byte> {member} => {old} != 0 ? _s.ReadData({slot}) : default;\n");
        }
        w.Append($"    public bool Has{pascal} => {old} != 0 && _s.HasPointer({slot});\n");
    }
}
