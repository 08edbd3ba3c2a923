using Podmon.Capnp;
using Podmon.Capnp.Rpc;
using Podmon.Rpc;
using Podmon.Schema;

namespace Podmon.Tests.Rpc;

public class RpcSessionTests
{
    sealed class Collect : IRpcOutput
    {
        public readonly List<byte[]> Frames = [];
        public bool Keep = true;
        public int Count;
        public void Send(ReadOnlySpan<byte> frame)
        {
            Count++;
            if (Keep) Frames.Add(frame.ToArray());
        }
    }

    static byte[] Bootstrap(uint q)
    {
        using var m = new MessageBuilder();
        RpcMessageBuilder.InitRoot(m).InitBootstrap().QuestionId = q;
        return m.Frame.ToArray();
    }

    static byte[] VersionCall(uint q, uint promisedQuestion, bool verbose = false)
    {
        using var m = new MessageBuilder();
        CallBuilder c = RpcMessageBuilder.InitRoot(m).InitCall();
        c.QuestionId = q;
        c.InterfaceId = Conmon.InterfaceId;
        c.MethodId = (ushort)ConmonMethod.Version;
        c.InitTarget().InitPromisedAnswer().QuestionId = promisedQuestion;
        var p = VersionParamsBuilder.Init(c.InitParams().Content);
        p.InitRequest().Verbose = verbose;
        return m.Frame.ToArray();
    }

    static byte[] Finish(uint q, bool releaseResultCaps)
    {
        using var m = new MessageBuilder();
        FinishBuilder f = RpcMessageBuilder.InitRoot(m).InitFinish();
        f.QuestionId = q;
        f.ReleaseResultCaps = releaseResultCaps;
        return m.Frame.ToArray();
    }

    [Fact]
    public void VersionCallsAllocateNothingInSteadyState()
    {
        var output = new Collect { Keep = false };
        var session = new RpcSession(TestConmon.Create(), output);
        session.Receive(Bootstrap(0));
        byte[][] calls = Enumerable.Range(1, 64).Select(i => VersionCall((uint)i, 0)).ToArray();
        byte[][] finishes = Enumerable.Range(1, 64).Select(i => Finish((uint)i, false)).ToArray();
        void Round()
        {
            foreach (byte[] c in calls) session.Receive(c);
            foreach (byte[] f in finishes) session.Receive(f);
        }
        for (int i = 0; i < 10; i++) Round();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) Round();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.False(session.IsClosed, session.CloseReason);
        Assert.Equal(1 + 110 * 64, output.Count);
        Assert.Equal(0, allocated);
        Assert.Equal(1, session.AnswerCount); // only the bootstrap answer is left
    }
}
