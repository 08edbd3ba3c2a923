namespace Podmon.Capnp.Tests;

/// <summary>Visits every pointer of a message generically, reading every data element.</summary>
internal static class Walker
{
    public static long Sink;

    public static void WalkPointer(PointerReader p)
    {
        switch (p.Kind)
        {
            case PointerKind.Struct:
                WalkStruct(p.GetStruct());
                break;
            case PointerKind.List:
                ListReader list = p.GetList();
                if (list.ElementSize == ElementSize.Byte)
                {
                    try
                    {
                        Sink += p.GetText().Length;
                    }
                    catch (CapnpFormatException)
                    {
                        // not NUL-terminated: fine for Data
                    }
                    Sink += p.GetData().Length;
                }
                WalkList(list);
                break;
            case PointerKind.Capability:
                Sink += p.GetCapability();
                break;
        }
    }

    public static void WalkStruct(StructReader s)
    {
        for (int b = 0; b < s.DataBytes + 8; b++)
            Sink += s.ReadUInt8(b) + (s.ReadBool(b * 8 + 3) ? 1 : 0);
        for (int i = 0; i < s.DataBytes / 8 + 1; i++)
            Sink += (long)s.ReadUInt64(i * 8);
        for (int i = 0; i <= s.PointerCount; i++)
            WalkPointer(s.GetPointer(i));
    }

    public static void WalkList(ListReader l)
    {
        for (int i = 0; i < l.Count; i++)
        {
            switch (l.ElementSize)
            {
                case ElementSize.Void:
                    Sink += l.GetStruct(i).DataBytes;
                    break;
                case ElementSize.Bit:
                    Sink += l.GetBool(i) ? 1 : 0;
                    break;
                case ElementSize.Byte:
                    Sink += l.GetUInt8(i);
                    break;
                case ElementSize.TwoBytes:
                    Sink += l.GetUInt16(i) + l.GetStruct(i).ReadUInt16(0);
                    break;
                case ElementSize.FourBytes:
                    Sink += l.GetUInt32(i);
                    break;
                case ElementSize.EightBytes:
                    Sink += (long)l.GetUInt64(i);
                    break;
                case ElementSize.Pointer:
                    WalkPointer(l.GetPointer(i));
                    break;
                default:
                    WalkStruct(l.GetStruct(i));
                    break;
            }
        }
    }
}
