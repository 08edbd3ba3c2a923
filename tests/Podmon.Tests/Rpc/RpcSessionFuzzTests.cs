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

    /// <summary>Seed streams: every golden request behind a Bootstrap, and every recorded c2s stream.</summary>
    internal static readonly byte[][] Seeds = LoadSeeds();

    /// <summary>
    /// For a real server: without the createNamespaces request that names a real pod under
    /// /var/run, which a real server would pin on the host (its error twin, with every field read, stays).
    /// </summary>
    internal static readonly byte[][] ServerSeeds = LoadSeeds("/create-namespaces-request.bin");

    static byte[][] LoadSeeds(string? skip = null)
    {
        string wire = RpcWire.WireDir;
        byte[] boot = RpcWire.Golden("bootstrap-request");
        var seeds = new List<byte[]>();
        foreach (string f in Directory.GetFiles(wire, "*-request.bin").Where(f => !f.EndsWith("/bootstrap-request.bin") && (skip is null || !f.EndsWith(skip))).Order(StringComparer.Ordinal))
            seeds.Add([.. boot, .. File.ReadAllBytes(f), .. RpcWire.Golden("finish-call"), .. RpcWire.Golden("release-bootstrap-cap")]);
        seeds.Add(File.ReadAllBytes(Path.Combine(wire, "version-session-c2s.bin")));
        foreach (string f in Directory.GetFiles(Path.Combine(wire, "sessions"), "c2s.bin", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            // The recorded createNamespaces session (pod1 under /var/run) would pin real namespaces on a real server, too.
            if (skip is not null && Path.GetFileName(Path.GetDirectoryName(f)) + "-request.bin" == skip.TrimStart('/')) continue;
            seeds.Add(File.ReadAllBytes(f));
        }
        // Protocol messages podmon answers specially, so mutations reach those paths too.
        seeds.Add([.. boot, .. RpcWire.DisembargoSenderLoopback(0, 5), .. RpcWire.Resolve(3), .. RpcWire.Provide(9),
            .. RpcWire.Call(1, 0, method: 2), .. RpcWire.Call(2, null, 0, method: 0), .. RpcWire.Finish(1, true), .. RpcWire.Release(0, 1)]);
        return [.. seeds];
    }

    static readonly uint[] Interesting = [0, 1, 2, 7, 0xFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0xFFFF_FFFC, 0x0001_0000, 0x0100_0000];

    internal static byte[] Mutate(byte[] seed, Random r)
    {
        var b = new List<byte>(seed);
        int ops = 1 + r.Next(4);
        for (int i = 0; i < ops && b.Count > 0; i++)
        {
            int at = r.Next(b.Count);
            switch (r.Next(8))
            {
                case 0: b[at] ^= (byte)(1 << r.Next(8)); break;
                case 1: b[at] = (byte)r.Next(256); break;
                case 2: // an interesting 32-bit value on a 4-byte boundary (counts, offsets, ids)
                {
                    int w = at & ~3;
                    uint v = Interesting[r.Next(Interesting.Length)];
                    for (int k = 0; k < 4 && w + k < b.Count; k++) b[w + k] = (byte)(v >> (8 * k));
                    break;
                }
                case 3: // copy another word over this one (pointer confusion)
                {
                    int from = r.Next(b.Count) & ~7, to = at & ~7;
                    for (int k = 0; k < 8 && from + k < b.Count && to + k < b.Count; k++) b[to + k] = b[from + k];
                    break;
                }
                case 4: b.RemoveRange(at, b.Count - at); break; // truncate
                case 5: b.InsertRange(at, Enumerable.Range(0, 1 + r.Next(16)).Select(_ => (byte)r.Next(256))); break;
                case 6: b.RemoveRange(at, Math.Min(b.Count - at, 1 + r.Next(16))); break;
                default: // duplicate a range (a replayed message, or half of one)
                {
                    int len = Math.Min(b.Count - at, 8 + r.Next(200));
                    b.InsertRange(r.Next(b.Count + 1), b.GetRange(at, len));
                    break;
                }
            }
        }
        return [.. b];
    }

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
        foreach (byte[] seed in Seeds)
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
        Gen.Select(Gen.Int[0, Seeds.Length - 1], Gen.Int)
            .Sample((seedIndex, seed) => RunCase(Mutate(Seeds[seedIndex], new Random(seed))), iter: Iterations, threads: 1);
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
                RunCase(withBootstrap ? [.. RpcWire.Golden("bootstrap-request"), .. frame] : frame);
            }, iter: Iterations / 4, threads: 1);
    }
}
