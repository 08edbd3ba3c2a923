using System.Text;

namespace Podmon.Capnp.Tests;

/// <summary>Canonical text of a message tree, independent of layout (for comparing copies).</summary>
internal static class Dump
{
    public static string Of(PointerReader p)
    {
        var sb = new StringBuilder();
        Pointer(sb, p);
        return sb.ToString();
    }

    private static void Pointer(StringBuilder sb, PointerReader p)
    {
        switch (p.Kind)
        {
            case PointerKind.Null:
                sb.Append("null");
                break;
            case PointerKind.Capability:
                sb.Append("cap").Append(p.GetCapability());
                break;
            case PointerKind.Struct:
                Struct(sb, p.GetStruct());
                break;
            default:
                ListReader l = p.GetList();
                sb.Append('[').Append(l.ElementSize).Append(' ').Append(l.Count).Append(':');
                if (l.ElementSize is ElementSize.InlineComposite)
                    for (int i = 0; i < l.Count; i++)
                        Struct(sb.Append(' '), l.GetStruct(i));
                else if (l.ElementSize is ElementSize.Pointer)
                    for (int i = 0; i < l.Count; i++)
                        Pointer(sb.Append(' '), l.GetPointer(i));
                else if (l.ElementSize is ElementSize.Bit)
                    for (int i = 0; i < l.Count; i++)
                        sb.Append(l.GetBool(i) ? '1' : '0');
                else
                    sb.Append(Convert.ToHexString(l.RawBytes));
                sb.Append(']');
                break;
        }
    }

    private static void Struct(StringBuilder sb, StructReader s)
    {
        // Trailing zero data words and null pointers are equivalent to absent ones.
        ReadOnlySpan<byte> data = s.DataSection;
        sb.Append('(').Append(Convert.ToHexString(data.TrimEnd((byte)0)));
        int ptrs = s.PointerCount;
        while (ptrs > 0 && s.GetPointer(ptrs - 1).IsNull)
            ptrs--;
        for (int i = 0; i < ptrs; i++)
            Pointer(sb.Append(' '), s.GetPointer(i));
        sb.Append(')');
    }
}
