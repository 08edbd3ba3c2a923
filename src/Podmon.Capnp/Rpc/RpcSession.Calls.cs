namespace Podmon.Capnp.Rpc;

/// <summary>Bootstrap, Call, Return, Finish, Release.</summary>
public sealed partial class RpcSession
{
    void OnBootstrap(BootstrapReader b)
    {
        uint q = b.QuestionId;
        Answer a = NewAnswer(q);
        uint export = AddExportRef(_bootstrap);
        a.ResultCap = _bootstrap;
        a.ResultExport = export;
        a.Returned = true;

        _out.Reset();
        ReturnBuilder ret = RpcMessageBuilder.InitRoot(_out).InitReturn();
        ret.AnswerId = q;
        ret.ReleaseParamCaps = false;
        PayloadBuilder results = ret.InitResults();
        results.Content.SetCapability(0);
        CapDescriptorBuilder cap = results.InitCapTable(1)[0];
        cap.SenderHosted = export;
        _output.Send(_out.Frame);
    }

    void OnCall(CallReader c)
    {
        uint q = c.QuestionId;
        if (c.SendResultsTo.Which != CallSendResultsToWhich.Caller)
            throw new RpcProtocolException($"sendResultsTo.{c.SendResultsTo.Which} is not supported by a two-party server");
        Answer a = NewAnswer(q);
        if (!TryResolveTarget(c.Target, out ICapability? target, out string? error))
        {
            RpcCall failed = RentCall(q);
            a.Call = failed;
            _pending++;
            failed.Fail(error!);
            _callPool.Push(failed);
            return;
        }
        RpcCall call = RentCall(q);
        a.Call = call;
        _pending++;
        if (target!.InterfaceId != c.InterfaceId)
        {
            call.Fail($"interface 0x{c.InterfaceId:x16} is not implemented by this capability", ExceptionType.Unimplemented);
        }
        else
        {
            StructReader parameters = c.Params.Content.GetStruct();
            try
            {
                target.Dispatch(c.MethodId, parameters, call);
            }
            catch (Exception e) when (e is not CapnpFormatException and not RpcProtocolException)
            {
                call.Fail(e.Message);
            }
        }
        if (call.Deferred && !call.IsAnswered) return;
        if (!call.IsAnswered) call.Fail($"method {c.MethodId} returned without an answer");
        if (!call.Deferred) _callPool.Push(call);
    }

    /// <summary>The capability a message targets: an export, or a returned promised answer.</summary>
    ICapability ResolveTarget(MessageTargetReader t) =>
        TryResolveTarget(t, out ICapability? cap, out string? error) ? cap! : throw new RpcProtocolException(error!);

    bool TryResolveTarget(MessageTargetReader t, out ICapability? cap, out string? error)
    {
        cap = null;
        error = null;
        switch (t.Which)
        {
            case MessageTargetWhich.ImportedCap:
                if (_exports.TryGetValue(t.ImportedCap, out Export? e))
                {
                    cap = e.Cap;
                    return true;
                }
                throw new RpcProtocolException($"call to unknown export id {t.ImportedCap}");
            case MessageTargetWhich.PromisedAnswer:
                PromisedAnswerReader p = t.PromisedAnswer;
                if (!_answers.TryGetValue(p.QuestionId, out Answer? a) || a.Finished)
                    throw new RpcProtocolException($"call to unknown question id {p.QuestionId}");
                var transform = p.Transform;
                for (int i = 0; i < transform.Count; i++)
                {
                    if (transform[i].Which != PromisedAnswerOpWhich.Noop)
                    {
                        error = "pipelined call: the promised answer's results hold no capability at that field";
                        return false;
                    }
                }
                if (a.ResultCap is null)
                {
                    error = "pipelined call: the promised answer does not resolve to a capability";
                    return false;
                }
                cap = a.ResultCap;
                return true;
            default:
                throw new RpcProtocolException($"unknown message target {(ushort)t.Which}");
        }
    }

    internal PointerBuilder BeginReturn(uint answerId)
    {
        _out.Reset();
        ReturnBuilder ret = RpcMessageBuilder.InitRoot(_out).InitReturn();
        ret.AnswerId = answerId;
        ret.ReleaseParamCaps = false;
        return ret.InitResults().Content;
    }

    internal void EndReturn(uint answerId)
    {
        // Bookkeeping first: the transport may decide, while sending, that nothing is owed any more
        // (a half-closed peer whose last deferred call this answers) and close once it is written.
        Returned(answerId);
        _output.Send(_out.Frame);
    }

    internal void SendException(uint answerId, string reason, ExceptionType type)
    {
        _out.Reset();
        ReturnBuilder ret = RpcMessageBuilder.InitRoot(_out).InitReturn();
        ret.AnswerId = answerId;
        ret.ReleaseParamCaps = false;
        ExceptionBuilder e = ret.InitException();
        e.SetReason(reason);
        e.Type = type;
        Returned(answerId);
        _output.Send(_out.Frame);
    }

    void Returned(uint answerId)
    {
        if (!_answers.TryGetValue(answerId, out Answer? a)) return;
        a.Returned = true;
        a.Call = null;
        _pending--;
        RetireIfDone(answerId, a);
    }

    void OnFinish(FinishReader f)
    {
        uint q = f.QuestionId;
        if (!_answers.TryGetValue(q, out Answer? a) || a.Finished)
            throw new RpcProtocolException($"Finish for unknown question id {q}");
        a.Finished = true;
        if (a.ResultCap is not null && f.ReleaseResultCaps)
            ReleaseExport(a.ResultExport, 1);
        // A call still running is answered anyway when it completes: the question id stays
        // reserved until that Return, as the protocol requires.
        RetireIfDone(q, a);
    }

    void OnRelease(ReleaseReader r) => ReleaseExport(r.Id, r.ReferenceCount);
}
