namespace Podmon.Capnp.Rpc;

/// <summary>
/// One incoming call, answered exactly once with <see cref="Return"/> or <see cref="Fail"/>.
/// Answer inside <see cref="ICapability.Dispatch"/>, or call <see cref="Defer"/> there and answer
/// later from the loop (e.g. when the OCI runtime exits). Calls answered inside Dispatch are pooled
/// by the session; a deferred one is never reused.
/// </summary>
public sealed class RpcCall
{
    RpcSession? _session;
    uint _answerId;
    bool _building;
    bool _abandoned;
    MessageBuilder? _discard;
    IAnswerObserver? _observer;
    internal bool Deferred;

    internal void Start(RpcSession session, uint answerId)
    {
        _session = session;
        _answerId = answerId;
        _building = false;
        _abandoned = false;
        _observer = null;
        Deferred = false;
    }

    /// <summary>Tells <paramref name="observer"/> once how this call ends (see <see cref="IAnswerObserver"/>).</summary>
    public void Observe(IAnswerObserver observer) => _observer = observer;

    void Ended(string? failure)
    {
        IAnswerObserver? o = _observer;
        _observer = null;
        o?.OnAnswered(failure);
    }

    public uint AnswerId => _answerId;

    /// <summary>Not answered yet and the connection is still open.</summary>
    public bool IsActive => _session is { IsClosed: false };

    internal bool IsAnswered => _session is null;

    /// <summary>Keeps the call open after Dispatch returns; answer it later on the loop thread.</summary>
    public RpcCall Defer()
    {
        Deferred = true;
        return this;
    }

    /// <summary>
    /// Starts the answer and returns the results struct (the method's `(response :X)` wrapper)
    /// to fill; then <see cref="Return"/>. Nothing else may be sent on the session in between.
    /// </summary>
    public StructBuilder InitResults(ushort dataWords, ushort pointerCount)
    {
        if (_abandoned)
        {
            // The connection is gone: let the caller fill a throwaway message, Return drops it.
            _building = true;
            _discard ??= new MessageBuilder();
            _discard.Reset();
            return _discard.InitRoot(dataWords, pointerCount);
        }
        var s = _session ?? throw new InvalidOperationException("the call was already answered or its connection is gone");
        _building = true;
        return s.BeginReturn(_answerId).InitStruct(dataWords, pointerCount);
    }

    /// <summary>Sends the results built since <see cref="InitResults"/>. A no-op once the connection is gone.</summary>
    public void Return()
    {
        if (_abandoned)
        {
            _discard?.Dispose();
            _discard = null;
            return;
        }
        var s = _session ?? throw new InvalidOperationException("the call was already answered or its connection is gone");
        if (!_building) throw new InvalidOperationException("InitResults was not called");
        _session = null;
        s.EndReturn(_answerId);
        Ended(null);
    }

    /// <summary>Answers with an exception; the client sees <paramref name="reason"/> as is. A no-op once the connection is gone.</summary>
    public void Fail(string reason, ExceptionType type = ExceptionType.Failed)
    {
        var s = _session;
        if (s is null) return;
        _session = null;
        if (!s.IsClosed) s.SendException(_answerId, reason, type);
        Ended(reason);
    }

    internal void Abandon()
    {
        _session = null;
        _abandoned = true;
        Ended("the connection closed before the answer");
    }
}
