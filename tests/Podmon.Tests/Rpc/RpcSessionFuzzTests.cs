using System.Buffers.Binary;
using CsCheck;
using Podmon.Capnp;
using Podmon.Capnp.Rpc;
using Podmon.Rpc;
using Podmon.Schema;

namespace Podmon.Tests.Rpc;

/// <summary>
/// Random byte mutations of real client streams (the golden vectors recorded from the C++ client),
/// fed to a session the way RpcConnection does: nothing may escape Receive, and the session either
/// keeps answering or ends with an Abort that says why.
/// </summary>
public class RpcSessionFuzzTests
{
    static readonly bool Ci = Environment.GetEnvironmentVariable("CI") == "true";
    static readonly long Iterations = Ci ? 120_000 : 20_000;

    sealed class Output : IRpcOutput
    {
        public readonly List<byte[]> Frames = [];
        public void Send(ReadOnlySpan<byte> frame) => Frames.Add(frame.ToArray());
    }

    /// <summary>Conmon, except that execSyncContainer is deferred and any other call walks its params.</summary>
    sealed class FuzzCap : ICapability
    {
        readonly ConmonService _conmon = TestConmon.Create();
        public readonly List<RpcCall> Deferred = [];
        public ulong InterfaceId => Conmon.InterfaceId;

        public void Dispatch(ushort methodId, StructReader parameters, RpcCall call)
        {
            if (methodId == (ushort)ConmonMethod.ExecSyncContainer) { Deferred.Add(call.Defer()); return; }
            if (methodId != (ushort)ConmonMethod.Version) Walk(parameters, 0);
            _conmon.Dispatch(methodId, parameters, call);
        }

        static void Walk(StructReader s, int depth)
        {
            if (depth > 8) return;
            for (int i = 0; i < s.PointerCount; i++)
            {
                PointerReader p = s.GetPointer(i);
                switch (p.Kind)
                {
                    case PointerKind.Struct: Walk(p.GetStruct(), depth + 1); break;
                    case PointerKind.List:
                        ListReader l = p.GetList();
                        for (int k = 0; k < Math.Min(l.Count, 64); k++)
                        {
                            if (l.ElementSize == ElementSize.InlineComposite) Walk(l.GetStruct(k), depth + 1);
                            else if (l.ElementSize == ElementSize.Pointer && l.GetPointer(k).Kind == PointerKind.List) l.GetText(k);
                        }
                        break;
                }
            }
        }
    }

    /// <summary>What RpcConnection.ProcessFrames does with a buffered stream.</summary>
    static void Drive(RpcSession s, byte[] stream)
    {
        int at = 0;
        while (!s.IsClosed)
        {
            FrameStatus status;
            int length;
            try { status = Framing.Check(stream.AsSpan(at), out length, s.MaxMessageBytes); }
            catch (CapnpFormatException e)
            {
                s.Abort($"malformed message: {e.Message}");
                return;
            }
            if (status == FrameStatus.NeedMore) return;
            s.Receive(stream.AsSpan(at, length));
            at += length;
        }
    }

    static void RunCase(byte[] stream)
    {
        var output = new Output();
        var cap = new FuzzCap();
        var s = new RpcSession(cap, output);
        Drive(s, stream);

        var sent = output.Frames.Select(RpcWire.Decode).ToList();
        foreach (Msg m in sent)
            Assert.Contains(m.Which, new[] { RpcMessageWhich.Return, RpcMessageWhich.Abort, RpcMessageWhich.Disembargo, RpcMessageWhich.Unimplemented });
        if (s.IsClosed)
        {
            Assert.False(string.IsNullOrEmpty(s.CloseReason));
            if (!s.CloseReason!.StartsWith("peer aborted: ", StringComparison.Ordinal))
            {
                Assert.Equal(RpcMessageWhich.Abort, sent[^1].Which);
                Assert.Equal(s.CloseReason, sent[^1].Reason);
            }
            Assert.Equal(0, s.PendingCalls);
        }
        else
        {
            Assert.DoesNotContain(sent, m => m.Which == RpcMessageWhich.Abort);
            Assert.Equal(cap.Deferred.Count(c => c.IsActive), s.PendingCalls);
        }
        // Deferred calls answered afterwards: sent while open, dropped once closed.
        int before = output.Frames.Count;
        for (int i = 0; i < cap.Deferred.Count; i++)
        {
            RpcCall c = cap.Deferred[i];
            bool active = c.IsActive;
            if (i % 2 == 0) c.Fail("late");
            else
            {
                new VersionResultsBuilder(c.InitResults(VersionResultsBuilder.DataWords, VersionResultsBuilder.PointerCount)).InitResponse().ProcessId = 1;
                c.Return();
            }
            Assert.Equal(before + (active ? 1 : 0), output.Frames.Count);
            before = output.Frames.Count;
        }
        Assert.Equal(0, s.PendingCalls);
        s.Disconnected();
        Assert.True(s.IsClosed);
        Assert.Equal(before, output.Frames.Count);
    }

    [Fact]
    public void SeedsAreAnsweredWithoutAbort()
    {
        foreach (byte[] seed in RpcFuzz.Seeds)
        {
            var output = new Output();
            var s = new RpcSession(new FuzzCap(), output);
            Drive(s, seed);
            Assert.False(s.IsClosed, s.CloseReason);
            Assert.Contains(output.Frames.Select(RpcWire.Decode), m => m.Which == RpcMessageWhich.Return && m.Id == 0 && m.ContentIsCapability);
        }
    }

    [Fact]
    public void MutatedClientStreamsNeverEscapeReceive()
    {
        Gen.Select(Gen.Int[0, RpcFuzz.Seeds.Length - 1], Gen.Int)
            .Sample((seedIndex, seed) => RunCase(RpcFuzz.Mutate(RpcFuzz.Seeds[seedIndex], new Random(seed))), iter: Iterations, threads: 1);
    }

    [Fact]
    public void RandomFramesNeverEscapeReceive()
    {
        // Pure garbage behind a valid header, in 1..3 segments.
        Gen.Select(Gen.Int[1, 3], Gen.Byte.Array[0, 400], Gen.Bool)
            .Sample((segments, body, withBootstrap) =>
            {
                int words = body.Length / 8;
                var header = new byte[Framing.HeaderBytes(segments)];
                BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)segments - 1);
                int left = words;
                for (int i = 0; i < segments; i++)
                {
                    int w = i == segments - 1 ? left : left / 2;
                    BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4 + 4 * i), (uint)w);
                    left -= w;
                }
                byte[] frame = [.. header, .. body.AsSpan(0, words * 8)];
                RunCase(withBootstrap ? [.. GoldenFrames.Load("bootstrap-request"), .. frame] : frame);
            }, iter: Iterations / 4, threads: 1);
    }
}
