using System.Buffers.Binary;
using Podmon.Capnp;
using Podmon.Capnp.Rpc;
using Podmon.Schema;

namespace Podmon.Testing;

/// <summary>
/// Client-side frames for driving a Cap'n Proto RPC server (in process or the published one), and a
/// decoder for what it sends back; the recorded frames are <see cref="GoldenFrames"/>.
/// </summary>
public static class RpcWire
{
    static byte[] Build(Action<RpcMessageBuilder> fill)
    {
        using var m = new MessageBuilder();
        fill(RpcMessageBuilder.InitRoot(m));
        return m.Frame.ToArray();
    }

    public static byte[] Bootstrap(uint q) => Build(m => m.InitBootstrap().QuestionId = q);

    /// <summary>A call on the bootstrap promise (as the C++ client pipelines it) or on an imported cap.</summary>
    public static byte[] Call(uint q, uint? promisedQuestion = 0, uint importedCap = 0, ushort method = 0,
        ulong interfaceId = Conmon.InterfaceId, bool verbose = false, ushort? transformField = null) => Build(m =>
    {
        CallBuilder c = m.InitCall();
        c.QuestionId = q;
        c.InterfaceId = interfaceId;
        c.MethodId = method;
        MessageTargetBuilder t = c.InitTarget();
        if (promisedQuestion is uint pq)
        {
            PromisedAnswerBuilder p = t.InitPromisedAnswer();
            p.QuestionId = pq;
            if (transformField is ushort f) { PromisedAnswerOpBuilder op = p.InitTransform(1)[0]; op.GetPointerField = f; }
            else p.InitTransform(0);
        }
        else t.ImportedCap = importedCap;
        // Every Conmon method's params are `(request :XRequest)`: pointer 0.
        VersionParamsBuilder.Init(c.InitParams().Content).InitRequest().Verbose = verbose;
    });

    /// <summary>A call of <paramref name="method"/> on the bootstrap promise whose request (params pointer 0) <paramref name="request"/> fills.</summary>
    public static byte[] CallWith(uint q, ushort method, Action<PointerBuilder> request, uint promisedQuestion = 0) => Build(m =>
    {
        CallBuilder c = m.InitCall();
        c.QuestionId = q;
        c.InterfaceId = Conmon.InterfaceId;
        c.MethodId = method;
        c.InitTarget().InitPromisedAnswer().QuestionId = promisedQuestion;
        request(c.InitParams().Content.InitStruct(0, 1).GetPointer(0));
    });

    public static byte[] Finish(uint q, bool releaseResultCaps = false) => Build(m =>
    {
        FinishBuilder f = m.InitFinish();
        f.QuestionId = q;
        f.ReleaseResultCaps = releaseResultCaps;
    });

    public static byte[] Release(uint id, uint count) => Build(m =>
    {
        ReleaseBuilder r = m.InitRelease();
        r.Id = id;
        r.ReferenceCount = count;
    });

    public static byte[] Return(uint answerId) => Build(m =>
    {
        ReturnBuilder r = m.InitReturn();
        r.AnswerId = answerId;
        r.InitResults();
    });

    public static byte[] Abort(string reason) => Build(m =>
    {
        ExceptionBuilder e = m.InitAbort();
        e.SetReason(reason);
        e.Type = ExceptionType.Disconnected;
    });

    public static byte[] DisembargoSenderLoopback(uint importedCap, uint embargoId) => Build(m =>
    {
        DisembargoBuilder d = m.InitDisembargo();
        d.InitTarget().ImportedCap = importedCap;
        DisembargoContextBuilder context = d.Context;
        context.SenderLoopback = embargoId;
    });

    public static byte[] DisembargoReceiverLoopback(uint importedCap, uint embargoId) => Build(m =>
    {
        DisembargoBuilder d = m.InitDisembargo();
        d.InitTarget().ImportedCap = importedCap;
        DisembargoContextBuilder context = d.Context;
        context.ReceiverLoopback = embargoId;
    });

    public static byte[] Resolve(uint promiseId) => Build(m =>
    {
        ResolveBuilder r = m.InitResolve();
        r.PromiseId = promiseId;
        r.InitException().SetReason("broken promise");
    });

    public static byte[] Provide(uint q) => Build(m =>
    {
        ProvideBuilder p = m.InitProvide();
        p.QuestionId = q;
        p.InitTarget().ImportedCap = 0;
    });

    /// <summary>Splits a byte stream into whole frames; a trailing partial frame is returned in <paramref name="rest"/>.</summary>
    public static List<byte[]> SplitFrames(ReadOnlySpan<byte> stream, out int rest)
    {
        var frames = new List<byte[]>();
        int at = 0;
        while (Framing.Check(stream[at..], out int length) == FrameStatus.Complete)
        {
            frames.Add(stream.Slice(at, length).ToArray());
            at += length;
        }
        rest = stream.Length - at;
        return frames;
    }

    /// <summary>A header alone that declares one segment of <paramref name="bytes"/>.</summary>
    public static byte[] HeaderClaiming(long bytes)
    {
        var h = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(4), (uint)(bytes / 8));
        return h;
    }

    public static Msg Decode(byte[] frame)
    {
        var ctx = new ReadContext();
        var reader = new MessageReader(frame, ref ctx);
        return Msg.From(new RpcMessageReader(reader.Root));
    }
}

/// <summary>One decoded rpc.Message, as plain values (the readers are ref structs).</summary>
public sealed record Msg
{
    public RpcMessageWhich Which { get; init; }
    public uint Id { get; init; } // answerId, questionId, promiseId, or the Disembargo context value
    public ReturnWhich ReturnWhich { get; init; }
    public bool ReleaseParamCaps { get; init; }
    public string? Reason { get; init; }
    public ExceptionType ExceptionType { get; init; }
    public bool ContentIsCapability { get; init; }
    public uint ContentCapIndex { get; init; }
    public (CapDescriptorWhich Which, uint Id)[] CapTable { get; init; } = [];
    public uint? VersionPid { get; init; }
    public string? Version { get; init; }
    public string? CargoTree { get; init; }
    public DisembargoContextWhich DisembargoWhich { get; init; }
    public MessageTargetWhich TargetWhich { get; init; }
    public uint TargetImportedCap { get; init; }
    public Msg? Inner { get; init; } // Unimplemented: the message sent back

    public static Msg From(RpcMessageReader m)
    {
        switch (m.Which)
        {
            case RpcMessageWhich.Return:
            {
                ReturnReader r = m.Return;
                var msg = new Msg { Which = m.Which, Id = r.AnswerId, ReturnWhich = r.Which, ReleaseParamCaps = r.ReleaseParamCaps };
                if (r.Which == ReturnWhich.Exception)
                    return msg with { Reason = r.Exception.ReasonString, ExceptionType = r.Exception.Type };
                if (r.Which != ReturnWhich.Results) return msg;
                PayloadReader p = r.Results;
                var caps = new (CapDescriptorWhich, uint)[p.CapTable.Count];
                for (int i = 0; i < caps.Length; i++) caps[i] = (p.CapTable[i].Which, p.CapTable[i].SenderHosted);
                msg = msg with { CapTable = caps };
                if (p.Content.Kind == PointerKind.Capability)
                    return msg with { ContentIsCapability = true, ContentCapIndex = p.Content.GetCapability() };
                if (p.Content.Kind == PointerKind.Struct)
                {
                    // Read as version's results; another method's results (a fuzzed call may reach any) do not decode so.
                    try
                    {
                        VersionResponseReader v = new VersionResultsReader(p.Content.GetStruct()).Response;
                        return msg with { VersionPid = v.ProcessId, Version = v.VersionString, CargoTree = v.CargoTreeString };
                    }
                    catch (CapnpFormatException) { return msg; }
                }
                return msg;
            }
            case RpcMessageWhich.Abort:
                return new Msg { Which = m.Which, Reason = m.Abort.ReasonString, ExceptionType = m.Abort.Type };
            case RpcMessageWhich.Disembargo:
            {
                DisembargoReader d = m.Disembargo;
                return new Msg
                {
                    Which = m.Which, DisembargoWhich = d.Context.Which, Id = d.Context.ReceiverLoopback,
                    TargetWhich = d.Target.Which, TargetImportedCap = d.Target.ImportedCap,
                };
            }
            case RpcMessageWhich.Unimplemented:
            {
                // The echoed message is the peer's own, malformed fields included.
                RpcMessageReader inner = m.Unimplemented;
                Msg innerMsg;
                try { innerMsg = From(inner); }
                catch (CapnpFormatException) { innerMsg = new Msg { Which = inner.Which }; }
                return new Msg { Which = m.Which, Inner = innerMsg };
            }
            case RpcMessageWhich.Resolve:
                return new Msg { Which = m.Which, Id = m.Resolve.PromiseId };
            case RpcMessageWhich.Provide:
                return new Msg { Which = m.Which, Id = m.Provide.QuestionId };
            case RpcMessageWhich.Bootstrap:
                return new Msg { Which = m.Which, Id = m.Bootstrap.QuestionId };
            case RpcMessageWhich.Call:
                return new Msg { Which = m.Which, Id = m.Call.QuestionId };
            case RpcMessageWhich.Finish:
                return new Msg { Which = m.Which, Id = m.Finish.QuestionId };
            default:
                return new Msg { Which = m.Which };
        }
    }
}
