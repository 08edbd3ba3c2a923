using Podmon.Capnp;
using Podmon.Schema;
using Shape = Podmon.Schema.ConmonV073Layout.Shape;

namespace Podmon.Rpc;

/// <summary>
/// The two generations of conmon.capnp that share one socket. conmon-rs v0.7.x (the Go client CRI-O
/// links up to 1.36) has <c>metadataOld :Data</c> where v1.0 has Void, so in its requests every
/// pointer after that field sits one slot higher. A request is told apart by its pointer count and
/// the kinds of the slots that differ, then read through the one set of v1.0 accessors over a view
/// that skips the old slot (<see cref="StructReader.WithoutPointer"/>): every handler is written
/// once, for both generations. Which requests differ, where, and what their shifted slots hold is
/// <see cref="ConmonV073Layout"/>, generated from the two compiled schemas (conmon.capnp and
/// conmon-v0.7.3.capnp) by src/Podmon.Capnp/Generator, which refuses any other kind of difference.
/// </summary>
static class SchemaGeneration
{
    /// <summary>The request shape of a method, or null where both generations agree.</summary>
    public static Shape? Of(ConmonMethod method) => ConmonV073Layout.Request(method);

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
        ElementSize[] shifted = shape.Shifted;
        bool fitsOld = Fits(request.GetPointer(shape.OldSlot), ElementSize.Byte), fitsCurrent = true;
        for (int i = 0; i < shifted.Length; i++)
        {
            int slot = shape.OldSlot + i;
            fitsCurrent &= Fits(request.GetPointer(slot), shifted[i]);
            fitsOld &= Fits(request.GetPointer(slot + 1), shifted[i]);
        }
        return fitsOld == fitsCurrent ? count == shape.OldPointers : fitsOld;
    }

    /// <summary>Whether a pointer can be a field whose lists have this element size (Text and Data: Byte).</summary>
    static bool Fits(PointerReader p, ElementSize size) =>
        p.IsNull || (p.Kind == PointerKind.List && p.GetList().ElementSize == size);
}
