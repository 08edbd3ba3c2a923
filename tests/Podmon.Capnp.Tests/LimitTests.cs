using System.Buffers.Binary;
using System.Diagnostics;
using Xunit;

namespace Podmon.Capnp.Tests;

public class LimitTests
{
    /// <summary>A frame from raw words per segment.</summary>
    internal static byte[] Frame(params ulong[][] segments)
    {
        int header = Framing.HeaderBytes(segments.Length);
        var frame = new byte[header + 8 * segments.Sum(s => s.Length)];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)segments.Length - 1);
        int pos = header;
        for (int i = 0; i < segments.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(4 + 4 * i), (uint)segments[i].Length);
            foreach (ulong w in segments[i])
            {
                BinaryPrimitives.WriteUInt64LittleEndian(frame.AsSpan(pos), w);
                pos += 8;
            }
        }
        return frame;
    }

    private static void Walk(byte[] frame, long traversalLimit = 0)
    {
        ReadContext ctx = default;
        ctx.TraversalLimitWords = traversalLimit;
        Walker.WalkPointer(new MessageReader(frame, ref ctx).RootPointer);
    }

    private static byte[] Chain(int depth)
    {
        using var mb = new MessageBuilder();
        PointerBuilder p = mb.Root;
        for (int i = 0; i < depth; i++)
            p = p.InitStruct(0, 1).GetPointer(0);
        return mb.Frame.ToArray();
    }

    [Fact]
    public void NestingBeyond64IsRefused()
    {
        Walk(Chain(63));
        CapnpFormatException e = Assert.Throws<CapnpFormatException>(() => Walk(Chain(65)));
        Assert.Contains("nesting", e.Message);
    }

    [Fact]
    public void HugeListInTinySegmentFailsQuickly()
    {
        var sw = Stopwatch.StartNew();
        // root -> list of 2^29-1 eight-byte elements, in a 2-word segment
        ulong huge = ((1UL << 29) - 1) << 35;
        Assert.Throws<CapnpFormatException>(() => Walk(Frame([1UL | (5UL << 32) | huge, 0])));
        // 2^29-1 voids take no space but exceed the traversal limit
        Assert.Throws<CapnpFormatException>(() => Walk(Frame([1UL | huge, 0])));
        // composite list of 2^29-1 zero-sized structs
        Assert.Throws<CapnpFormatException>(() => Walk(Frame([1UL | (7UL << 32), ((1UL << 29) - 1) << 2])));
        Assert.True(sw.ElapsedMilliseconds < 1000, $"took {sw.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void FarPointerToMissingSegmentIsRefused()
    {
        CapnpFormatException e = Assert.Throws<CapnpFormatException>(() => Walk(Frame([2UL | (99UL << 32)])));
        Assert.Contains("segment 99", e.Message);
        Assert.Throws<CapnpFormatException>(() => Walk(Frame([2UL | (1000UL << 3) | (1UL << 32)], [0])));
    }

    [Fact]
    public void SelfReferencingPointersAreStopped()
    {
        // root: struct, offset -1, 0 data words, 1 pointer: its pointer section is the root pointer itself.
        Assert.Throws<CapnpFormatException>(() => Walk(Frame([Ptr.Struct(-1, 0, 1)])));
        // A pointer list whose element points back at the list.
        Assert.Throws<CapnpFormatException>(() => Walk(Frame([Ptr.List(0, ElementSize.Pointer, 1), Ptr.List(-2, ElementSize.Pointer, 1)])));
    }

    [Fact]
    public void AmplificationHitsTheTraversalLimit()
    {
        // 1000 pointers all aimed at the same 100-word list: 100k words read from a 1.1k-word message.
        var words = new ulong[1 + 1000 + 100];
        words[0] = Ptr.Struct(0, 0, 1000);
        for (int i = 0; i < 1000; i++)
            words[1 + i] = Ptr.List(1000 - i - 1, ElementSize.EightBytes, 100);
        byte[] frame = Frame(words);
        Walk(frame, traversalLimit: 200_000);
        CapnpFormatException e = Assert.Throws<CapnpFormatException>(() => Walk(frame, traversalLimit: 50_000));
        Assert.Contains("traversal limit", e.Message);
    }

    [Fact]
    public void BadPointersAreCleanErrors()
    {
        Assert.Throws<CapnpFormatException>(() => Walk(Frame([Ptr.Struct(5, 1, 0)])));              // beyond segment
        Assert.Throws<CapnpFormatException>(() => Walk(Frame([Ptr.Struct(-3, 0, 0)])));             // before segment
        Assert.Throws<CapnpFormatException>(() => Walk(Frame([3UL | (1UL << 2)])));                 // unknown 'other' pointer
        Assert.Throws<CapnpFormatException>(() => Walk(Frame([Ptr.List(0, ElementSize.InlineComposite, 1), 1UL])));  // tag not a struct
        Assert.Throws<CapnpFormatException>(() => Walk(Frame([Ptr.List(0, ElementSize.InlineComposite, 1), Ptr.Struct(2, 1, 0), 0]))); // overrun
        ReadContext ctx = default;
        byte[] text = Frame([Ptr.List(0, ElementSize.Byte, 3), 0x636261]); // "abc" without NUL
        Assert.Throws<CapnpFormatException>(() => new MessageReader(text, ref ctx).RootPointer.GetText().Length);
        Assert.Throws<CapnpFormatException>(() => new MessageReader(text, ref ctx).Root.DataBytes);  // list read as struct
        Assert.Throws<CapnpFormatException>(() => new MessageReader(Frame([Ptr.Struct(0, 1, 0), 0]), ref ctx).RootPointer.GetList().Count);
    }

    [Fact]
    public void ListUpgradeRules()
    {
        // A List(UInt32) read as a list of structs whose first field is that value.
        ReadContext ctx = default;
        byte[] f = Frame([Ptr.List(0, ElementSize.FourBytes, 2), 0x0000_0002_0000_0001UL]);
        ListReader l = new MessageReader(f, ref ctx).RootPointer.GetList();
        Assert.Equal(2u, l.GetStruct(1).ReadUInt32(0));
        Assert.Equal(0u, l.GetStruct(1).ReadUInt32(4)); // beyond the element: default
        Assert.Equal(0, l.GetStruct(1).PointerCount);
        // A composite list read as primitives / pointers uses each element's first field.
        using var mb = new MessageBuilder();
        ListBuilder sl = mb.Root.InitStructList(2, 1, 1);
        sl.GetStruct(1).WriteUInt64(0, 42);
        sl.GetStruct(1).GetPointer(0).SetText("hi");
        l = new MessageReader(mb.Frame, ref ctx).RootPointer.GetList();
        Assert.Equal(42UL, l.GetUInt64(1));
        Assert.Equal("hi", l.GetTextString(1));
        Assert.Throws<CapnpFormatException>(() => new MessageReader(Frame([Ptr.List(0, ElementSize.Bit, 2), 3]), ref ctx).RootPointer.GetList().GetStruct(0).DataBytes);
    }

    [Fact]
    public void DoubleFarPointerIsFollowed()
    {
        // seg0: root = double far -> seg1 pad; seg1: [far -> seg2:0, tag struct(1 data,0 ptr)]; seg2: data word
        byte[] f = Frame(
            [2UL | 4UL | (0UL << 3) | (1UL << 32)],
            [2UL | (0UL << 3) | (2UL << 32), Ptr.Struct(0, 1, 0)],
            [0x1234UL]);
        ReadContext ctx = default;
        Assert.Equal(0x1234UL, new MessageReader(f, ref ctx).Root.ReadUInt64(0));
    }
}
