using Podmon.Capnp;
using Podmon.Capnp.Rpc;
using Podmon.Rpc;
using Podmon.Schema;
using static Podmon.Testing.RpcWire;

namespace Podmon.Tests.Rpc;

/// <summary>RpcSession against in-memory frames: protocol rules, tables, deferred calls, exception shapes.</summary>
public class RpcSessionProtocolTests
{
    sealed class Output : IRpcOutput
    {
        public readonly List<Msg> Sent = [];
        public void Send(ReadOnlySpan<byte> frame) => Sent.Add(Decode(frame.ToArray()));
    }

    /// <summary>A capability whose behaviour the test picks per call.</summary>
    sealed class TestCap(ulong interfaceId = Conmon.InterfaceId) : ICapability
    {
        public ulong InterfaceId => interfaceId;
        public Action<ushort, RpcCall> OnCall = (_, c) => c.Fail("no handler");
        public void Dispatch(ushort methodId, StructReader parameters, RpcCall call) => OnCall(methodId, call);
    }

    static (RpcSession Session, Output Out) NewSession(ICapability? cap = null)
    {
        var output = new Output();
        return (new RpcSession(cap ?? TestConmon.Create(), output), output);
    }

    static void Feed(RpcSession s, params byte[][] frames)
    {
        foreach (byte[] f in frames) s.Receive(f);
    }

    /// <summary>The session sent exactly one more message, an Abort with this reason, and is closed.</summary>
    static void AssertAborted(RpcSession s, Output o, string reason)
    {
        Assert.True(s.IsClosed);
        Assert.Equal(reason, s.CloseReason);
        Msg last = Assert.Single(o.Sent, m => m.Which == RpcMessageWhich.Abort);
        Assert.Same(last, o.Sent[^1]);
        Assert.Equal(reason, last.Reason);
        Assert.Equal(ExceptionType.Failed, last.ExceptionType);
        // A closed session ignores whatever comes next, and sends nothing more.
        int sent = o.Sent.Count;
        Feed(s, Bootstrap(100), Call(101, 100));
        Assert.Equal(sent, o.Sent.Count);
    }

    static readonly uint OwnPid = (uint)Environment.ProcessId;

    [Fact]
    public void BootstrapReturnsTheServiceAsSenderHostedExportZero()
    {
        var (s, o) = NewSession();
        Feed(s, Bootstrap(0));
        Msg r = Assert.Single(o.Sent);
        Assert.Equal(RpcMessageWhich.Return, r.Which);
        Assert.Equal(0u, r.Id);
        Assert.Equal(ReturnWhich.Results, r.ReturnWhich);
        Assert.False(r.ReleaseParamCaps);
        Assert.True(r.ContentIsCapability);
        Assert.Equal(0u, r.ContentCapIndex);
        Assert.Equal([(CapDescriptorWhich.SenderHosted, 0u)], r.CapTable);
        Assert.Equal(1, s.ExportCount);
        Assert.Equal(1, s.AnswerCount);
        Feed(s, Finish(0));
        Assert.Equal(0, s.AnswerCount);
        Assert.Equal(1, s.ExportCount); // Finish without releaseResultCaps keeps the capability
    }

    [Fact]
    public void PipelinedCallsOnTheBootstrapQuestionAreAnsweredInOrder()
    {
        var (s, o) = NewSession();
        // As the C++ client does: Bootstrap and the calls in one batch, before it read the bootstrap Return.
        Feed(s, [Bootstrap(0), .. Enumerable.Range(1, 5).Select(i => Call((uint)i, 0, verbose: i == 5))]);
        Assert.Equal(6, o.Sent.Count);
        Assert.Equal([0u, 1, 2, 3, 4, 5], o.Sent.Select(m => m.Id));
        foreach (Msg m in o.Sent.Skip(1))
        {
            Assert.Equal(ReturnWhich.Results, m.ReturnWhich);
            Assert.Equal(OwnPid, m.VersionPid);
            Assert.False(string.IsNullOrEmpty(m.Version));
        }
        Assert.Equal("", o.Sent[1].CargoTree);
        Assert.StartsWith("podmon v", o.Sent[5].CargoTree);
        // The same capability through its export id works too.
        Feed(s, Finish(0), Call(6, promisedQuestion: null, importedCap: 0));
        Assert.Equal(OwnPid, o.Sent[^1].VersionPid);
        Feed(s, [.. Enumerable.Range(1, 6).Select(i => Finish((uint)i))]);
        Assert.Equal(0, s.AnswerCount);
        Assert.Equal(0, s.PendingCalls);
        Assert.False(s.IsClosed);
    }

    [Fact]
    public void DuplicateQuestionIdAborts()
    {
        var (s, o) = NewSession();
        Feed(s, Bootstrap(0), Call(1, 0)); // answered, but not finished: id 1 stays in use
        Feed(s, Call(1, 0));
        AssertAborted(s, o, "protocol error: question id 1 is already in use");
    }

    [Fact]
    public void DuplicateBootstrapQuestionIdAborts()
    {
        var (s, o) = NewSession();
        Feed(s, Bootstrap(0), Bootstrap(0));
        AssertAborted(s, o, "protocol error: question id 0 is already in use");
    }

    [Fact]
    public void QuestionIdCanBeReusedAfterFinish()
    {
        var (s, o) = NewSession();
        Feed(s, Bootstrap(0), Call(1, 0), Finish(1), Call(1, 0));
        Assert.False(s.IsClosed, s.CloseReason);
        Assert.Equal(3, o.Sent.Count);
        Assert.Equal(OwnPid, o.Sent[2].VersionPid);
    }

    [Fact]
    public void FinishOfUnknownQuestionAborts()
    {
        var (s, o) = NewSession();
        Feed(s, Bootstrap(0), Finish(9));
        AssertAborted(s, o, "protocol error: Finish for unknown question id 9");
    }

    [Fact]
    public void SecondFinishAborts()
    {
        var (s, o) = NewSession(new TestCap { OnCall = (_, c) => c.Defer() });
        Feed(s, Bootstrap(0), Call(1, 0), Finish(1)); // still running: the answer stays
        Feed(s, Finish(1));
        AssertAborted(s, o, "protocol error: Finish for unknown question id 1");
    }

    [Fact]
    public void ReleaseOfUnknownExportAborts()
    {
        var (s, o) = NewSession();
        Feed(s, Bootstrap(0), Release(5, 1));
        AssertAborted(s, o, "protocol error: Release of unknown export id 5");
    }

    [Fact]
    public void OverReleaseAborts()
    {
        var (s, o) = NewSession();
        Feed(s, Bootstrap(0), Finish(0), Release(0, 2));
        AssertAborted(s, o, "protocol error: Release of 2 references to export id 0, which has 1");
    }

    [Fact]
    public void ReturnFromTheClientAborts()
    {
        var (s, o) = NewSession();
        Feed(s, Bootstrap(0), Return(0));
        AssertAborted(s, o, "protocol error: Return for a question this server never asked");
    }

    [Fact]
    public void CallToUnknownExportAborts()
    {
        var (s, o) = NewSession();
        Feed(s, Bootstrap(0), Call(1, promisedQuestion: null, importedCap: 3));
        AssertAborted(s, o, "protocol error: call to unknown export id 3");
    }

    [Fact]
    public void CallToUnknownQuestionAborts()
    {
        var (s, o) = NewSession();
        Feed(s, Bootstrap(0), Call(1, promisedQuestion: 4));
        AssertAborted(s, o, "protocol error: call to unknown question id 4");
    }

    [Fact]
    public void CallToFinishedQuestionAborts()
    {
        var (s, o) = NewSession();
        Feed(s, Bootstrap(0), Finish(0), Call(1, promisedQuestion: 0));
        AssertAborted(s, o, "protocol error: call to unknown question id 0");
    }

    [Fact]
    public void FinishWithReleaseResultCapsDropsTheBootstrapReference()
    {
        var (s, o) = NewSession();
        Feed(s, Bootstrap(0), Finish(0, releaseResultCaps: true));
        Assert.False(s.IsClosed, s.CloseReason);
        Assert.Equal(0, s.ExportCount);
        Feed(s, Call(1, promisedQuestion: null, importedCap: 0));
        AssertAborted(s, o, "protocol error: call to unknown export id 0");
    }

    [Fact]
    public void ReleaseDropsTheBootstrapReference()
    {
        var (s, o) = NewSession();
        Feed(s, Bootstrap(0), Finish(0), Release(0, 1));
        Assert.False(s.IsClosed, s.CloseReason);
        Assert.Equal(0, s.ExportCount);
        Feed(s, Call(1, promisedQuestion: null, importedCap: 0));
        AssertAborted(s, o, "protocol error: call to unknown export id 0");
    }

    [Fact]
    public void EachBootstrapAddsAReferenceToTheSameExport()
    {
        var (s, o) = NewSession();
        Feed(s, Bootstrap(0), Bootstrap(1), Finish(0), Finish(1));
        Assert.Equal([(CapDescriptorWhich.SenderHosted, 0u)], o.Sent[1].CapTable);
        Assert.Equal(1, s.ExportCount);
        Feed(s, Release(0, 1), Call(2, promisedQuestion: null, importedCap: 0));
        Assert.False(s.IsClosed, s.CloseReason);
        Assert.Equal(OwnPid, o.Sent[^1].VersionPid);
        Feed(s, Release(0, 1));
        Assert.Equal(0, s.ExportCount);
        Feed(s, Release(0, 1));
        AssertAborted(s, o, "protocol error: Release of unknown export id 0");
    }

    [Fact]
    public void DisembargoSenderLoopbackIsReflectedAsReceiverLoopback()
    {
        var (s, o) = NewSession();
        Feed(s, Bootstrap(0), DisembargoSenderLoopback(0, 77));
        Assert.False(s.IsClosed, s.CloseReason);
        Msg d = o.Sent[^1];
        Assert.Equal(RpcMessageWhich.Disembargo, d.Which);
        Assert.Equal(DisembargoContextWhich.ReceiverLoopback, d.DisembargoWhich);
        Assert.Equal(77u, d.Id);
        Assert.Equal(MessageTargetWhich.ImportedCap, d.TargetWhich);
        Assert.Equal(0u, d.TargetImportedCap);
    }

    [Fact]
    public void DisembargoOnAnUnknownTargetAborts()
    {
        var (s, o) = NewSession();
        Feed(s, Bootstrap(0), DisembargoSenderLoopback(8, 1));
        AssertAborted(s, o, "protocol error: call to unknown export id 8");
    }

    [Fact]
    public void DisembargoReceiverLoopbackFromTheClientAborts()
    {
        var (s, o) = NewSession();
        Feed(s, Bootstrap(0), DisembargoReceiverLoopback(0, 1));
        AssertAborted(s, o, "protocol error: Disembargo context ReceiverLoopback is not supported");
    }

    [Fact]
    public void ResolveAndProvideAreAnsweredWithUnimplementedCopies()
    {
        var (s, o) = NewSession();
        Feed(s, Bootstrap(0), Resolve(12), Provide(13));
        Assert.False(s.IsClosed, s.CloseReason);
        Assert.Equal(3, o.Sent.Count);
        Assert.Equal(RpcMessageWhich.Unimplemented, o.Sent[1].Which);
        Assert.Equal(new Msg { Which = RpcMessageWhich.Resolve, Id = 12 }, o.Sent[1].Inner);
        Assert.Equal(RpcMessageWhich.Unimplemented, o.Sent[2].Which);
        Assert.Equal(new Msg { Which = RpcMessageWhich.Provide, Id = 13 }, o.Sent[2].Inner);
        // The session goes on.
        Feed(s, Call(1, 0));
        Assert.Equal(OwnPid, o.Sent[^1].VersionPid);
    }

    [Fact]
    public void AbortFromThePeerClosesWithoutReply()
    {
        var (s, o) = NewSession();
        Feed(s, Bootstrap(0), Abort("bye"));
        Assert.True(s.IsClosed);
        Assert.Equal("peer aborted: bye", s.CloseReason);
        Assert.Single(o.Sent);
    }

    [Fact]
    public void InterfaceIdMismatchIsAnUnimplementedException()
    {
        var (s, o) = NewSession();
        Feed(s, Bootstrap(0), Call(1, 0, interfaceId: 0x1234));
        Msg r = o.Sent[^1];
        Assert.Equal(1u, r.Id);
        Assert.Equal(ReturnWhich.Exception, r.ReturnWhich);
        Assert.Equal("interface 0x0000000000001234 is not implemented by this capability", r.Reason);
        Assert.Equal(ExceptionType.Unimplemented, r.ExceptionType);
        Assert.False(s.IsClosed);
    }

    [Fact]
    public void UnknownMethodOrdinalIsUnimplemented()
    {
        var (s, o) = NewSession();
        Feed(s, Bootstrap(0), Call(1, 0, method: 42));
        Assert.Equal("method 42 of interface Conmon does not exist", o.Sent[^1].Reason);
        Assert.Equal(ExceptionType.Unimplemented, o.Sent[^1].ExceptionType);
    }

    [Fact]
    public void ThrowingOrSilentHandlersBecomeFailedReturns()
    {
        var cap = new TestCap();
        var (s, o) = NewSession(cap);
        cap.OnCall = (_, _) => throw new InvalidOperationException("handler blew up");
        Feed(s, Bootstrap(0), Call(1, 0));
        Assert.Equal(("handler blew up", ExceptionType.Failed), (o.Sent[^1].Reason, o.Sent[^1].ExceptionType));
        cap.OnCall = (_, _) => { };
        Feed(s, Call(2, 0, method: 3));
        Assert.Equal(2u, o.Sent[^1].Id);
        Assert.Equal("method 3 returned without an answer", o.Sent[^1].Reason);
        Assert.Equal(0, s.PendingCalls);
        Assert.False(s.IsClosed);
    }

    [Fact]
    public void PipelinedCallThroughAFieldOrOnACallResultIsAFailedReturn()
    {
        var (s, o) = NewSession();
        Feed(s, Bootstrap(0), Call(1, 0, transformField: 0));
        Assert.Equal("pipelined call: the promised answer's results hold no capability at that field", o.Sent[^1].Reason);
        Feed(s, Call(2, 0), Call(3, promisedQuestion: 2));
        Assert.Equal(3u, o.Sent[^1].Id);
        Assert.Equal("pipelined call: the promised answer does not resolve to a capability", o.Sent[^1].Reason);
        Assert.Equal(ExceptionType.Failed, o.Sent[^1].ExceptionType);
        Assert.False(s.IsClosed);
    }

    [Fact]
    public void DeferredCallIsAnsweredLater()
    {
        var cap = new TestCap();
        RpcCall? held = null;
        cap.OnCall = (_, c) => held = c.Defer();
        var (s, o) = NewSession(cap);
        Feed(s, Bootstrap(0), Call(1, 0), Finish(1)); // the client may Finish before the Return
        Assert.Single(o.Sent);
        Assert.Equal(1, s.PendingCalls);
        Assert.Equal(2, s.AnswerCount); // question 1 stays reserved until answered
        Assert.True(held!.IsActive);
        Assert.Equal(1u, held.AnswerId);

        // Another call meanwhile is answered at once.
        cap.OnCall = (_, c) => c.Fail("quick");
        Feed(s, Call(2, 0));
        Assert.Equal((2u, "quick"), (o.Sent[^1].Id, o.Sent[^1].Reason));

        StructBuilder results = held.InitResults(VersionResultsBuilder.DataWords, VersionResultsBuilder.PointerCount);
        new VersionResultsBuilder(results).InitResponse().ProcessId = 4242;
        held.Return();
        Assert.Equal((1u, (uint?)4242), (o.Sent[^1].Id, o.Sent[^1].VersionPid));
        Assert.False(held.IsActive);
        Assert.Equal(0, s.PendingCalls);
        Assert.Equal(2, s.AnswerCount); // bootstrap, and 2 (not finished yet)
        held.Fail("again"); // answered already: a no-op
        Assert.Equal(3, o.Sent.Count);
        Assert.Throws<InvalidOperationException>(() => held.Return());
    }

    [Fact]
    public void DeferredCallFailsLater()
    {
        var cap = new TestCap();
        RpcCall? held = null;
        cap.OnCall = (_, c) => held = c.Defer();
        var (s, o) = NewSession(cap);
        Feed(s, Bootstrap(0), Call(1, 0));
        held!.Fail("container exited", ExceptionType.Overloaded);
        Assert.Equal((1u, ReturnWhich.Exception, "container exited", ExceptionType.Overloaded),
            (o.Sent[^1].Id, o.Sent[^1].ReturnWhich, o.Sent[^1].Reason, o.Sent[^1].ExceptionType));
        Feed(s, Finish(1));
        Assert.Equal(1, s.AnswerCount);
        Assert.Equal(0, s.PendingCalls);
    }

    [Fact]
    public void DeferredCallIsAbandonedWhenTheSessionCloses()
    {
        var cap = new TestCap();
        var held = new List<RpcCall>();
        cap.OnCall = (_, c) => held.Add(c.Defer());
        var (s, o) = NewSession(cap);
        Feed(s, Bootstrap(0), Call(1, 0), Call(2, 0));
        Assert.Equal(2, s.PendingCalls);
        s.Disconnected();
        Assert.True(s.IsClosed);
        Assert.Equal("peer disconnected", s.CloseReason);
        Assert.Equal(0, s.PendingCalls);
        int sent = o.Sent.Count;
        Assert.All(held, c => Assert.False(c.IsActive));
        held[0].Fail("too late");
        StructBuilder r = held[1].InitResults(VersionResultsBuilder.DataWords, VersionResultsBuilder.PointerCount);
        new VersionResultsBuilder(r).InitResponse().SetVersion("too late");
        held[1].Return();
        Assert.Equal(sent, o.Sent.Count);
    }

    [Fact]
    public void DeferredCallIsAbandonedWhenTheSessionAborts()
    {
        var cap = new TestCap();
        RpcCall? held = null;
        cap.OnCall = (_, c) => held = c.Defer();
        var (s, o) = NewSession(cap);
        Feed(s, Bootstrap(0), Call(1, 0), Finish(7));
        AssertAborted(s, o, "protocol error: Finish for unknown question id 7");
        Assert.False(held!.IsActive);
        int sent = o.Sent.Count;
        held.InitResults(0, 0);
        held.Return();
        held.Fail("x");
        Assert.Equal(sent, o.Sent.Count);
    }

    [Fact]
    public void GoldenClientStreamIsAnsweredLikeTheCppServer()
    {
        // The whole c2s stream of a real conmon-rpc `version` run, frame by frame.
        var (s, o) = NewSession();
        List<byte[]> frames = SplitFrames(File.ReadAllBytes(GoldenFrames.PathOf("version-session-c2s")), out int rest);
        Assert.Equal(0, rest);
        Assert.Equal(5, frames.Count);
        Feed(s, [.. frames]);
        Assert.False(s.IsClosed, s.CloseReason);
        Assert.Equal(2, o.Sent.Count);
        Assert.Equal([(CapDescriptorWhich.SenderHosted, 0u)], o.Sent[0].CapTable);
        Assert.Equal((1u, (uint?)OwnPid), (o.Sent[1].Id, o.Sent[1].VersionPid));
        // Finish(0), Finish(1), Release(0, 1): nothing is left.
        Assert.Equal(0, s.AnswerCount);
        Assert.Equal(0, s.ExportCount);
    }
}
