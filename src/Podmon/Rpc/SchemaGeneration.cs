using Podmon.Capnp;
using Podmon.Schema;
using Shape = Podmon.Schema.ConmonV073Layout.Shape;

namespace Podmon.Rpc;

/// <summary>
/// The two generations of conmon.capnp that share one socket. conmon-rs v0.7.x (the Go client CRI-O
/// links up to 1.36) has <c>metadataOld :Data</c> where v1.0 has Void, so in its requests every
/// pointer after that field sits one slot higher. A request is told apart by its pointer count and
/// the kinds of the slots that differ, then read through its generated reader constructed for that
/// layout (<c>new CreateContainerRequestReader(request, old)</c>), whose accessors of the shifted
/// pointers add 0 or 1 to their slot: every handler is written once, for both generations, and the
/// general <see cref="StructReader"/> that every message is read with knows nothing of generations.
/// Which requests differ, where, and what their shifted slots hold is <see cref="ConmonV073Layout"/>,
/// generated with those readers from the two compiled schemas (conmon.capnp and conmon-v0.7.3.capnp)
/// by src/Podmon.Capnp/Generator, which refuses any other kind of difference.
/// </summary>
static class SchemaGeneration
{
    /// <summary>The request shape of a method, or null where both generations agree.</summary>
    public static Shape? Of(ConmonMethod method) => ConmonV073Layout.Request(method);

    /// <summary>
    /// The method's request (pointer 0 of <paramref name="parameters"/>) as encoded; <paramref name="old"/>
    /// says whether the caller writes the v0.7 layout, which the request's reader must be constructed for.
    /// </summary>
    public static StructReader Request(ConmonMethod method, StructReader parameters, out bool old)
    {
        StructReader request = parameters.ReadStruct(0);
        Shape? shape = Of(method);
        old = shape is not null && IsOld(shape, request);
        return request;
    }

    /// <summary>
    /// A v0.7 request's <c>metadataOld</c>: the raw Data bytes, where the v0.7 Go client puts its metadata
    /// map as a JSON object (W3C <c>traceparent</c> among it) when tracing is on. Empty for a v1.0 request
    /// (Void there), a method without the field, or a null pointer.
    /// </summary>
    public static ReadOnlySpan<byte> MetadataOld(ConmonMethod method, StructReader request, bool old) =>
        old && Of(method) is { } shape ? request.ReadData(shape.OldSlot) : default;

    /// <summary>The request's <c>metadata</c> (a TextTextMap, which every method's request has), from its slot in either layout.</summary>
    public static TextTextMapEntryListReader Metadata(ConmonMethod method, StructReader request, bool old) => method switch
    {
        ConmonMethod.Version => new VersionRequestReader(request, old).Metadata,
        ConmonMethod.CreateContainer => new CreateContainerRequestReader(request, old).Metadata,
        ConmonMethod.ExecSyncContainer => new ExecSyncContainerRequestReader(request, old).Metadata,
        ConmonMethod.AttachContainer => new AttachRequestReader(request, old).Metadata,
        ConmonMethod.ReopenLogContainer => new ReopenLogRequestReader(request, old).Metadata,
        ConmonMethod.SetWindowSizeContainer => new SetWindowSizeRequestReader(request, old).Metadata,
        ConmonMethod.CreateNamespaces => new CreateNamespacesRequestReader(request, old).Metadata,
        ConmonMethod.StartFdSocket => new StartFdSocketRequestReader(request).Metadata,
        ConmonMethod.ServeExecContainer => new ServeExecContainerRequestReader(request).Metadata,
        ConmonMethod.ServeAttachContainer => new ServeAttachContainerRequestReader(request).Metadata,
        ConmonMethod.ServePortForwardContainer => new ServePortForwardContainerRequestReader(request).Metadata,
        _ => default,
    };

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
