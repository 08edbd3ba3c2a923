namespace Podmon.Capnp.Rpc;

/// <summary>The per-connection answer and export tables (the peer's questions and imports).</summary>
public sealed partial class RpcSession
{
    sealed class Answer
    {
        public bool Returned;
        public bool Finished;
        /// <summary>The capability the answer's results are (bootstrap); null for call results.</summary>
        public ICapability? ResultCap;
        public uint ResultExport;
        public RpcCall? Call;
    }

    sealed class Export(ICapability cap)
    {
        public readonly ICapability Cap = cap;
        public uint RefCount;
    }

    readonly Dictionary<uint, Answer> _answers = [];
    readonly Dictionary<uint, Export> _exports = [];
    readonly Dictionary<ICapability, uint> _exportByCap = new(ReferenceEqualityComparer.Instance);
    readonly Stack<Answer> _answerPool = new();
    readonly Stack<RpcCall> _callPool = new();
    uint _nextExportId;
    int _pending;

    public int AnswerCount => _answers.Count;

    public int ExportCount => _exports.Count;

    Answer NewAnswer(uint questionId)
    {
        if (_answers.ContainsKey(questionId))
            throw new RpcProtocolException($"question id {questionId} is already in use");
        Answer a = _answerPool.Count > 0 ? _answerPool.Pop() : new Answer();
        a.Returned = a.Finished = false;
        a.ResultCap = null;
        a.Call = null;
        _answers.Add(questionId, a);
        return a;
    }

    /// <summary>An answer leaves the table once it was returned and the peer sent Finish.</summary>
    void RetireIfDone(uint id, Answer a)
    {
        if (!a.Returned || !a.Finished) return;
        _answers.Remove(id);
        _answerPool.Push(a);
    }

    uint AddExportRef(ICapability cap)
    {
        if (!_exportByCap.TryGetValue(cap, out uint id))
        {
            id = _nextExportId++;
            _exports.Add(id, new Export(cap));
            _exportByCap.Add(cap, id);
        }
        _exports[id].RefCount++;
        return id;
    }

    void ReleaseExport(uint id, uint count)
    {
        if (!_exports.TryGetValue(id, out Export? e))
            throw new RpcProtocolException($"Release of unknown export id {id}");
        if (count > e.RefCount)
            throw new RpcProtocolException($"Release of {count} references to export id {id}, which has {e.RefCount}");
        e.RefCount -= count;
        if (e.RefCount == 0)
        {
            _exports.Remove(id);
            _exportByCap.Remove(e.Cap);
        }
    }

    RpcCall RentCall(uint answerId)
    {
        RpcCall c = _callPool.Count > 0 ? _callPool.Pop() : new RpcCall();
        c.Start(this, answerId);
        return c;
    }
}
