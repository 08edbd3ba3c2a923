namespace Podmon.Capnp;

public readonly partial struct PointerBuilder
{
    /// <summary>
    /// Deep-copies whatever <paramref name="source"/> points to (struct, list, text, data, capability
    /// index or null) from a received message into this slot. Reading the source is charged to its
    /// traversal limit, so malformed or cyclic input ends in a <see cref="CapnpFormatException"/>.
    /// Capability indexes are copied as they are; remapping them is the caller's business.
    /// </summary>
    public void CopyFrom(PointerReader source)
    {
        switch (source.Kind)
        {
            case PointerKind.Null:
                SetNull();
                break;
            case PointerKind.Capability:
                SetCapability(source.GetCapability());
                break;
            case PointerKind.Struct:
                CopyFrom(source.GetStruct());
                break;
            default:
                CopyFrom(source.GetList());
                break;
        }
    }

    public void CopyFrom(StructReader source)
    {
        StructBuilder dst = InitStruct((ushort)((source.DataBytes + 7) / 8), (ushort)source.PointerCount);
        source.DataSection.CopyTo(dst.DataSection);
        for (int i = 0; i < source.PointerCount; i++)
            dst.GetPointer(i).CopyFrom(source.GetPointer(i));
    }

    public void CopyFrom(ListReader source)
    {
        int count = source.Count;
        switch (source.ElementSize)
        {
            case ElementSize.InlineComposite:
                ListBuilder structs = InitStructList(count, (ushort)source.StructDataWords, (ushort)source.StructPointerCount);
                for (int i = 0; i < count; i++)
                {
                    StructReader s = source.GetStruct(i);
                    StructBuilder d = structs.GetStruct(i);
                    s.DataSection.CopyTo(d.DataSection);
                    for (int p = 0; p < s.PointerCount; p++)
                        d.GetPointer(p).CopyFrom(s.GetPointer(p));
                }
                break;
            case ElementSize.Pointer:
                ListBuilder pointers = InitList(ElementSize.Pointer, count);
                for (int i = 0; i < count; i++)
                    pointers.GetPointer(i).CopyFrom(source.GetPointer(i));
                break;
            default:
                source.RawBytes.CopyTo(InitList(source.ElementSize, count).RawBytes);
                break;
        }
    }
}
