using System.Buffers.Binary;
using System.Text;
using CsCheck;
using Podmon.Capnp.Rpc;
using Xunit;

namespace Podmon.Capnp.Tests;

public class PropertyTests
{
    private static readonly bool Ci = Environment.GetEnvironmentVariable("CI") == "true";

    // ---- random trees: build -> read round trip (and deep copy) ----

    private abstract record Node;
    private sealed record StructNode(ulong[] Data, Node?[] Ptrs) : Node;
    private sealed record TextNode(string Value) : Node;
    private sealed record DataNode(byte[] Value) : Node;
    private sealed record U16ListNode(ushort[] Values) : Node;
    private sealed record U64ListNode(ulong[] Values) : Node;
    private sealed record BoolListNode(bool[] Values) : Node;
    private sealed record PtrListNode(Node?[] Items) : Node;
    private sealed record StructListNode(int DataWords, int Ptrs, StructNode[] Items) : Node;
    private sealed record CapNode(uint Index) : Node;

    private static readonly string[] Samples = ["", "a", "grüße", "☃", "🐧 penguin", "\0inner", "line\nbreak", new string('z', 300)];

    private static string RandomText(Random r) => r.Next(3) == 0
        ? Samples[r.Next(Samples.Length)]
        : new string(Enumerable.Range(0, r.Next(20)).Select(_ => (char)r.Next(32, 0x3000)).Where(c => !char.IsSurrogate(c)).ToArray());

    private static StructNode RandomStruct(Random r, int depth, int dataWords, int ptrs) =>
        new(Enumerable.Range(0, dataWords).Select(_ => (ulong)r.NextInt64()).ToArray(),
            Enumerable.Range(0, ptrs).Select(_ => RandomNode(r, depth + 1)).ToArray());

    private static Node? RandomNode(Random r, int depth)
    {
        int pick = r.Next(depth > 4 ? 7 : 10);
        return pick switch
        {
            0 => null,
            1 => new TextNode(RandomText(r)),
            2 => new DataNode(Enumerable.Range(0, r.Next(20)).Select(_ => (byte)r.Next()).ToArray()),
            3 => new U16ListNode(Enumerable.Range(0, r.Next(10)).Select(_ => (ushort)r.Next()).ToArray()),
            4 => new U64ListNode(Enumerable.Range(0, r.Next(10)).Select(_ => (ulong)r.NextInt64()).ToArray()),
            5 => new BoolListNode(Enumerable.Range(0, r.Next(130)).Select(_ => r.Next(2) == 1).ToArray()),
            6 => new CapNode((uint)r.Next()),
            7 => RandomStruct(r, depth, r.Next(4), r.Next(4)),
            8 => new PtrListNode(Enumerable.Range(0, r.Next(5)).Select(_ => RandomNode(r, depth + 1)).ToArray()),
            _ => RandomStructList(r, depth),
        };
    }

    private static StructListNode RandomStructList(Random r, int depth)
    {
        int d = r.Next(3), p = r.Next(3);
        return new StructListNode(d, p, Enumerable.Range(0, r.Next(5)).Select(_ => RandomStruct(r, depth, d, p)).ToArray());
    }

    private static void Build(PointerBuilder p, Node? n)
    {
        switch (n)
        {
            case null: p.SetNull(); break;
            case TextNode t: p.SetText(t.Value); break;
            case DataNode d: p.SetData(d.Value); break;
            case CapNode c: p.SetCapability(c.Index); break;
            case U16ListNode u:
                PrimitiveListBuilder<ushort> u16 = p.InitList<ushort>(u.Values.Length);
                for (int i = 0; i < u.Values.Length; i++) u16[i] = u.Values[i];
                break;
            case U64ListNode u:
                PrimitiveListBuilder<ulong> u64 = p.InitList<ulong>(u.Values.Length);
                for (int i = 0; i < u.Values.Length; i++) u64[i] = u.Values[i];
                break;
            case BoolListNode b:
                ListBuilder bits = p.InitList(ElementSize.Bit, b.Values.Length);
                for (int i = 0; i < b.Values.Length; i++) bits.SetBool(i, b.Values[i]);
                break;
            case PtrListNode l:
                ListBuilder ptrs = p.InitList(ElementSize.Pointer, l.Items.Length);
                for (int i = 0; i < l.Items.Length; i++) Build(ptrs.GetPointer(i), l.Items[i]);
                break;
            case StructListNode sl:
                ListBuilder structs = p.InitStructList(sl.Items.Length, (ushort)sl.DataWords, (ushort)sl.Ptrs);
                for (int i = 0; i < sl.Items.Length; i++) Fill(structs.GetStruct(i), sl.Items[i]);
                break;
            case StructNode s:
                Fill(p.InitStruct((ushort)s.Data.Length, (ushort)s.Ptrs.Length), s);
                break;
        }
    }

    private static void Fill(StructBuilder b, StructNode s)
    {
        for (int i = 0; i < s.Data.Length; i++) b.WriteUInt64(i * 8, s.Data[i]);
        for (int i = 0; i < s.Ptrs.Length; i++) Build(b.GetPointer(i), s.Ptrs[i]);
    }

    private static void Check(PointerReader p, Node? n)
    {
        switch (n)
        {
            case null: Assert.True(p.IsNull); break;
            case TextNode t: Assert.Equal(t.Value, p.GetTextString()); Assert.True(Encoding.UTF8.GetBytes(t.Value).AsSpan().SequenceEqual(p.GetText())); break;
            case DataNode d: Assert.Equal(d.Value, p.GetData().ToArray()); break;
            case CapNode c: Assert.Equal(PointerKind.Capability, p.Kind); Assert.Equal(c.Index, p.GetCapability()); break;
            case U16ListNode u:
                PrimitiveListReader<ushort> u16 = p.GetList<ushort>();
                Assert.Equal(u.Values.Length, u16.Count);
                for (int i = 0; i < u.Values.Length; i++) Assert.Equal(u.Values[i], u16[i]);
                break;
            case U64ListNode u:
                ListReader u64 = p.GetList();
                Assert.Equal(u.Values.Length, u64.Count);
                for (int i = 0; i < u.Values.Length; i++) Assert.Equal(u.Values[i], u64.GetUInt64(i));
                break;
            case BoolListNode b:
                ListReader bits = p.GetList();
                Assert.Equal(b.Values.Length, bits.Count);
                for (int i = 0; i < b.Values.Length; i++) Assert.Equal(b.Values[i], bits.GetBool(i));
                break;
            case PtrListNode l:
                ListReader ptrs = p.GetList();
                Assert.Equal(l.Items.Length, ptrs.Count);
                for (int i = 0; i < l.Items.Length; i++) Check(ptrs.GetPointer(i), l.Items[i]);
                break;
            case StructListNode sl:
                ListReader structs = p.GetList();
                Assert.Equal(ElementSize.InlineComposite, structs.ElementSize);
                Assert.Equal(sl.Items.Length, structs.Count);
                for (int i = 0; i < sl.Items.Length; i++) CheckStruct(structs.GetStruct(i), sl.Items[i]);
                break;
            case StructNode s:
                Assert.Equal(PointerKind.Struct, p.Kind);
                CheckStruct(p.GetStruct(), s);
                break;
        }
    }

    private static void CheckStruct(StructReader r, StructNode s)
    {
        Assert.Equal(s.Data.Length * 8, r.DataBytes);
        Assert.Equal(s.Ptrs.Length, r.PointerCount);
        for (int i = 0; i < s.Data.Length; i++)
        {
            Assert.Equal(s.Data[i], r.ReadUInt64(i * 8));
            Assert.Equal((uint)s.Data[i], r.ReadUInt32(i * 8));
            Assert.Equal((s.Data[i] & 1) != 0, r.ReadBool(i * 64));
            Assert.Equal(s.Data[i] ^ 5, r.ReadUInt64(i * 8, 5)); // XOR default
        }
        Assert.Equal(77UL, r.ReadUInt64(s.Data.Length * 8, 77)); // beyond the data section: default
        for (int i = 0; i < s.Ptrs.Length; i++) Check(r.GetPointer(i), s.Ptrs[i]);
        Assert.True(r.GetPointer(s.Ptrs.Length).IsNull);
    }

    [Fact]
    public void RandomTreesRoundTripAndCopy()
    {
        using var mb = new MessageBuilder(64);
        using var copy = new MessageBuilder(64);
        Gen.Int.Sample(seed =>
        {
            var r = new Random(seed);
            Node? tree = RandomNode(r, 0);
            mb.Reset();
            Build(mb.Root, tree);
            ReadContext ctx = default;
            Check(new MessageReader(mb.Frame, ref ctx).RootPointer, tree);

            copy.Reset();
            copy.Root.CopyFrom(new MessageReader(mb.Frame, ref ctx).RootPointer);
            Check(new MessageReader(copy.Frame, ref ctx).RootPointer, tree);
        }, iter: Ci ? 5000 : 1000, threads: 1);
    }

    // ---- mutation fuzzing of the golden frames ----

    private static readonly byte[][] Golden = GoldenFrames.AllPaths()
        .Where(p => new FileInfo(p).Length < 30_000)
        .Select(File.ReadAllBytes).DistinctBy(Convert.ToHexString).ToArray();

    private static byte[] Mutate(byte[] frame, int kind, int position, ulong value)
    {
        byte[] m = (byte[])frame.Clone();
        if (m.Length == 0)
            return m;
        int pos = position % m.Length;
        switch (kind)
        {
            case 0: m[pos] ^= (byte)(1 << (int)(value & 7)); break;                       // flip a bit
            case 1: m[pos] = (byte)value; break;                                        // overwrite a byte
            case 2:                                                                     // overwrite an aligned word
                int w = (pos / 8) * 8;
                if (w + 8 <= m.Length) BinaryPrimitives.WriteUInt64LittleEndian(m.AsSpan(w), value);
                break;
            case 3:                                                                     // tweak a pointer's offset/size fields
                int p = (pos / 8) * 8;
                if (p + 8 <= m.Length)
                    BinaryPrimitives.WriteUInt64LittleEndian(m.AsSpan(p), BinaryPrimitives.ReadUInt64LittleEndian(m.AsSpan(p)) + (value % 64) * (1UL << (int)(value >> 58)));
                break;
            case 4: return m.AsSpan(0, pos).ToArray();                                  // truncate
            case 5: return m.Concat(BitConverter.GetBytes(value)).ToArray();            // extend
            case 6: return Resize(m, -(int)(value % 8 + 1));                            // drop words, patch the table
            default: return Resize(m, (int)(value % 8 + 1), value);                     // add words, patch the table
        }
        return m;
    }

    /// <summary>Grows or shrinks the last segment by whole words and updates the segment table.</summary>
    private static byte[] Resize(byte[] frame, int words, ulong fill = 0)
    {
        if (frame.Length < 8 || BinaryPrimitives.ReadUInt32LittleEndian(frame) >= 512)
            return frame;
        int count = (int)BinaryPrimitives.ReadUInt32LittleEndian(frame) + 1;
        int at = 4 * count; // size of the last segment
        if (at + 4 > frame.Length)
            return frame;
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(frame.AsSpan(at));
        if (words < 0 && size < -words)
            return frame;
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(at), (uint)(size + words));
        if (words < 0)
            return frame.AsSpan(0, frame.Length + 8 * words).ToArray();
        var tail = new byte[8 * words];
        for (int i = 0; i < words; i++) BinaryPrimitives.WriteUInt64LittleEndian(tail.AsSpan(8 * i), fill * (ulong)(i + 1));
        return frame.Concat(tail).ToArray();
    }

    private static void ReadEverything(byte[] frame)
    {
        try
        {
            if (Framing.Check(frame, out int length) != FrameStatus.Complete || length != frame.Length)
                return;
            ReadContext ctx = default;
            ctx.TraversalLimitWords = 1 << 20;
            var msg = new MessageReader(frame, ref ctx);
            Walker.WalkPointer(msg.RootPointer);
            DecodeRpc(new RpcMessageReader(msg.Root));
            Assert.InRange(ctx.WordsLeft, 0, 1 << 20);
            using var mb = new MessageBuilder();
            mb.Root.CopyFrom(new MessageReader(frame, ref ctx).RootPointer);
        }
        catch (CapnpFormatException)
        {
            // the only acceptable failure
        }
    }

    private static void DecodeRpc(RpcMessageReader m)
    {
        switch (m.Which)
        {
            case RpcMessageWhich.Call:
                CallReader c = m.Call;
                Walker.Sink += c.QuestionId + c.MethodId + (long)c.InterfaceId + (int)c.SendResultsTo.Which;
                Walker.Sink += (int)c.Target.Which + c.Target.ImportedCap + c.Target.PromisedAnswer.Transform.Count;
                PayloadReader p = c.Params;
                Walker.WalkPointer(p.Content);
                for (int i = 0; i < p.CapTable.Count; i++) Walker.Sink += (int)p.CapTable[i].Which + p.CapTable[i].AttachedFd;
                Walker.Sink += Podmon.Schema.CreateContainerParamsReader.From(p.Content).Request.IdString.Length;
                break;
            case RpcMessageWhich.Return:
                ReturnReader r = m.Return;
                Walker.Sink += r.AnswerId + (r.ReleaseParamCaps ? 1 : 0);
                if (r.Which == ReturnWhich.Exception) Walker.Sink += r.Exception.ReasonString.Length + (int)r.Exception.Type;
                else Walker.Sink += Podmon.Schema.VersionResultsReader.From(r.Results.Content).Response.VersionString.Length;
                break;
            case RpcMessageWhich.Abort:
                Walker.Sink += m.Abort.Reason.Length;
                break;
            default:
                Walker.Sink += m.Finish.QuestionId + m.Release.ReferenceCount + m.Bootstrap.QuestionId;
                break;
        }
    }

    [Fact]
    public void MutatedGoldenFramesNeverCrashTheReader()
    {
        long total = Ci ? 120_000 : 12_000;
        Gen.Select(Gen.Int[0, Golden.Length - 1], Gen.Int[0, 7], Gen.Int[0, int.MaxValue], Gen.ULong, Gen.Int[1, 3])
            .Sample((frameIndex, kind, position, value, rounds) =>
            {
                byte[] m = Golden[frameIndex];
                for (int i = 0; i < rounds; i++)
                    m = Mutate(m, kind, position + i * 13, value * (ulong)(i + 1));
                ReadEverything(m);
            }, iter: total);
    }
}
