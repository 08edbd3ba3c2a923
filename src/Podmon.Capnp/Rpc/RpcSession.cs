namespace Podmon.Capnp.Rpc;

/// <summary>
/// The server side of one two-party Cap'n Proto RPC connection (level 1, as the C++ and Go
/// clients speak it): Bootstrap, Call (to an export or to a promised answer, so the first call
/// can be pipelined on the bootstrap question), Return, Finish, Release, Disembargo, Abort, and
/// Unimplemented for the rest. Transport-agnostic: frames in through <see cref="Receive"/>, frames
/// out through <see cref="IRpcOutput"/>. Single-threaded; steady-state calls allocate nothing.
/// </summary>
public sealed partial class RpcSession
{
    readonly ICapability _bootstrap;
    readonly IRpcOutput _output;
    readonly MessageBuilder _out = new();
    readonly int _maxMessageBytes;
    ReadContext _read;

    public RpcSession(ICapability bootstrap, IRpcOutput output, int maxMessageBytes = Framing.DefaultMaxMessageBytes)
    {
        _bootstrap = bootstrap;
        _output = output;
        _maxMessageBytes = maxMessageBytes;
    }

    public int MaxMessageBytes => _maxMessageBytes;

    public bool IsClosed { get; private set; }

    /// <summary>Why the session ended (sent or received Abort, peer gone), once closed.</summary>
    public string? CloseReason { get; private set; }

    /// <summary>Calls answered later that are still outstanding.</summary>
    public int PendingCalls => _pending;

    /// <summary>
    /// Processes one complete frame. A malformed message or protocol violation sends Abort and
    /// closes the session (<see cref="IsClosed"/>); it never throws.
    /// </summary>
    public void Receive(ReadOnlySpan<byte> frame)
    {
        if (IsClosed) return;
        try
        {
            var msg = new MessageReader(frame, ref _read);
            Dispatch(new RpcMessageReader(msg.Root));
        }
        catch (CapnpFormatException e)
        {
            Abort($"malformed message: {e.Message}");
        }
        catch (RpcProtocolException e)
        {
            Abort($"protocol error: {e.Message}");
        }
    }

    /// <summary>The transport is gone: calls still running are abandoned, nothing more is sent.</summary>
    public void Disconnected(string reason = "peer disconnected")
    {
        if (IsClosed) return;
        Close(reason);
    }

    /// <summary>Sends Abort with <paramref name="reason"/> and closes the session.</summary>
    public void Abort(string reason, ExceptionType type = ExceptionType.Failed)
    {
        if (IsClosed) return;
        try
        {
            _out.Reset();
            var e = RpcMessageBuilder.InitRoot(_out).InitAbort();
            e.SetReason(reason);
            e.Type = type;
            _output.Send(_out.Frame);
        }
        finally
        {
            Close(reason);
        }
    }

    void Close(string reason)
    {
        IsClosed = true;
        CloseReason = reason;
        foreach (Answer a in _answers.Values)
        {
            a.Call?.Abandon();
            a.Call = null;
        }
        _answers.Clear();
        _exports.Clear();
        _exportByCap.Clear();
        _answerPool.Clear();
        _callPool.Clear();
        _pending = 0;
        _out.Dispose();
    }

    void Dispatch(RpcMessageReader m)
    {
        switch (m.Which)
        {
            case RpcMessageWhich.Bootstrap: OnBootstrap(m.Bootstrap); break;
            case RpcMessageWhich.Call: OnCall(m.Call); break;
            case RpcMessageWhich.Finish: OnFinish(m.Finish); break;
            case RpcMessageWhich.Release: OnRelease(m.Release); break;
            case RpcMessageWhich.Disembargo: OnDisembargo(m.Disembargo); break;
            case RpcMessageWhich.Abort:
                Close($"peer aborted: {m.Abort.ReasonString}");
                break;
            case RpcMessageWhich.Unimplemented:
                break; // we only ever send what a level-1 peer implements; nothing to undo
            case RpcMessageWhich.Return:
                throw new RpcProtocolException("Return for a question this server never asked");
            default:
                SendUnimplemented(m);
                break;
        }
    }

    /// <summary>The most an echoed message may take; a bigger one is echoed as its ids alone.</summary>
    internal const int EchoLimitWords = 8 * 1024; // 64 KiB

    /// <summary>
    /// Echoes a message this server does not implement. The peer needs its ids (question, promise,
    /// export) to undo what it sent, and they live in the message's data sections; a deep copy is
    /// what the spec describes, but one small message whose pointers all share a big struct would
    /// copy into a reply thousands of times its size. So the copy stops at <see cref="EchoLimitWords"/>
    /// and then only the message's root and its variant's data (pointers null) are echoed.
    /// </summary>
    void SendUnimplemented(RpcMessageReader m)
    {
        _out.Reset();
        int limit = _out.WordLimit;
        _out.WordLimit = EchoLimitWords;
        try
        {
            RpcMessageBuilder.InitRoot(_out).UnimplementedPointer.CopyFrom(m.Struct);
        }
        catch (MessageLimitException)
        {
            _out.Reset();
            StructBuilder copy = ShallowCopy(RpcMessageBuilder.InitRoot(_out).UnimplementedPointer, m.Struct);
            if (copy.PointerCount > 0 && m.Struct.GetPointer(0).Kind == PointerKind.Struct)
                ShallowCopy(copy.GetPointer(0), m.Struct.GetPointer(0).GetStruct());
        }
        finally
        {
            _out.WordLimit = limit;
        }
        _output.Send(_out.Frame);
    }

    /// <summary>A struct's data (at most 16 words: every rpc.capnp struct has fewer) with its pointers null.</summary>
    static StructBuilder ShallowCopy(PointerBuilder to, StructReader from)
    {
        int bytes = Math.Min(from.DataBytes, 16 * 8);
        StructBuilder copy = to.InitStruct((ushort)((bytes + 7) / 8), (ushort)Math.Min(from.PointerCount, 16));
        from.DataSection[..bytes].CopyTo(copy.DataSection);
        return copy;
    }

    void OnDisembargo(DisembargoReader d)
    {
        // Two-party, promises we resolve are never local: only reflect senderLoopback.
        if (d.Context.Which != DisembargoContextWhich.SenderLoopback)
            throw new RpcProtocolException($"Disembargo context {d.Context.Which} is not supported");
        ResolveTarget(d.Target); // must name a capability we host
        uint embargo = d.Context.SenderLoopback;
        _out.Reset();
        var r = RpcMessageBuilder.InitRoot(_out).InitDisembargo();
        r.TargetPointer.CopyFrom(d.Target.Struct);
        DisembargoContextBuilder context = r.Context;
        context.ReceiverLoopback = embargo;
        _output.Send(_out.Frame);
    }
}
