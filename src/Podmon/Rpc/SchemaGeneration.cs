using Podmon.Capnp;
using Podmon.Schema;

namespace Podmon.Rpc;

/// <summary>
/// The two generations of conmon.capnp that share one socket. conmon-rs v0.7.x (the Go client CRI-O
/// links up to 1.36) has <c>metadataOld :Data</c> where v1.0 has Void, so in its requests every
/// pointer after that field sits one slot higher. A request is told apart by its pointer count and
/// the kinds of the slots that differ, then read through the one set of v1.0 accessors over a view
/// that skips the old slot (<see cref="StructReader.WithoutPointer"/>): every handler is written
/// once, for both generations. The shapes below are checked against both layout files by a test.
/// </summary>
static class SchemaGeneration
{
    /// <summary>What a pointer field holds, as far as its encoding tells (Text and Data are both byte lists).</summary>
    public enum Slot : byte { ByteList, TwoByteList, EightByteList, PointerList, StructList }

    /// <summary>
    /// A request struct that differs: v0.7's <c>metadataOld</c> is pointer <paramref name="OldSlot"/>,
    /// and <paramref name="Shifted"/> are the kinds of v1.0's pointers from that slot on, which v0.7
    /// has one higher. v1.0 has <c>OldSlot + Shifted.Length</c> pointers, v0.7 one more.
    /// </summary>
    public sealed record Shape(string Struct, int OldSlot, Slot[] Shifted)
    {
        public int CurrentPointers => OldSlot + Shifted.Length;
        public int OldPointers => CurrentPointers + 1;
    }

    public static readonly Shape Version = new("VersionRequest", 0, [Slot.StructList]);
    public static readonly Shape CreateContainer = new("CreateContainerRequest", 8,
        [Slot.StructList, Slot.StructList, Slot.EightByteList, Slot.EightByteList]);
    public static readonly Shape ExecSync = new("ExecSyncContainerRequest", 2, [Slot.StructList, Slot.StructList]);
    public static readonly Shape Attach = new("AttachRequest", 3, [Slot.StructList]);
    public static readonly Shape ReopenLog = new("ReopenLogRequest", 1, [Slot.StructList]);
    public static readonly Shape SetWindowSize = new("SetWindowSizeRequest", 1, [Slot.StructList]);
    public static readonly Shape CreateNamespaces = new("CreateNamespacesRequest", 0,
        [Slot.TwoByteList, Slot.PointerList, Slot.PointerList, Slot.ByteList, Slot.ByteList, Slot.StructList]);

    /// <summary>The request shape of a method, or null where both generations agree.</summary>
    public static Shape? Of(ConmonMethod method) => method switch
    {
        ConmonMethod.Version => Version,
        ConmonMethod.CreateContainer => CreateContainer,
        ConmonMethod.ExecSyncContainer => ExecSync,
        ConmonMethod.AttachContainer => Attach,
        ConmonMethod.ReopenLogContainer => ReopenLog,
        ConmonMethod.SetWindowSizeContainer => SetWindowSize,
        ConmonMethod.CreateNamespaces => CreateNamespaces,
        _ => null,
    };

    /// <summary>
    /// The method's request (pointer 0 of <paramref name="parameters"/>) as the v1.0 accessors must
    /// see it; <paramref name="old"/> says whether the caller writes the v0.7 layout.
    /// </summary>
    public static StructReader Request(ConmonMethod method, StructReader parameters, out bool old)
    {
        StructReader request = parameters.ReadStruct(0);
        Shape? shape = Of(method);
        old = shape is not null && IsOld(shape, request);
        return old ? request.WithoutPointer(shape!.OldSlot) : request;
    }

    /// <summary>
    /// v0.7 if only the v0.7 reading fits the pointer kinds (its metadataOld is a byte list or null);
    /// where both or neither fit, the pointer count decides: exactly v0.7's count is v0.7, anything
    /// else v1.0 (or a later schema that appended fields).
    /// </summary>
    public static bool IsOld(Shape shape, StructReader request)
    {
        int count = request.PointerCount;
        if (count <= shape.OldSlot) return false; // nothing that differs is there
        bool fitsOld = Fits(request.GetPointer(shape.OldSlot), Slot.ByteList), fitsCurrent = true;
        for (int i = 0; i < shape.Shifted.Length; i++)
        {
            int slot = shape.OldSlot + i;
            fitsCurrent &= Fits(request.GetPointer(slot), shape.Shifted[i]);
            fitsOld &= Fits(request.GetPointer(slot + 1), shape.Shifted[i]);
        }
        return fitsOld == fitsCurrent ? count == shape.OldPointers : fitsOld;
    }

    static bool Fits(PointerReader p, Slot kind)
    {
        if (p.IsNull) return true;
        if (p.Kind != PointerKind.List) return false;
        return p.GetList().ElementSize == kind switch
        {
            Slot.ByteList => ElementSize.Byte,
            Slot.TwoByteList => ElementSize.TwoBytes,
            Slot.EightByteList => ElementSize.EightBytes,
            Slot.PointerList => ElementSize.Pointer,
            _ => ElementSize.InlineComposite,
        };
    }
}
