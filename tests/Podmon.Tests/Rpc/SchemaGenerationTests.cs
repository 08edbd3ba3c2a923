using System.Text;
using System.Text.RegularExpressions;
using CsCheck;
using Podmon.Capnp;
using Podmon.Capnp.Rpc;
using Podmon.Rpc;
using Podmon.Schema;
using Slot = Podmon.Rpc.SchemaGeneration.Slot;

namespace Podmon.Tests.Rpc;

/// <summary>
/// The v0.7 / v1.0 request shapes against the two layout files, and requests written in either
/// layout read back to the same values through the one set of accessors.
/// </summary>
public partial class SchemaGenerationTests
{
    sealed record Field(string Name, string Type, int Ptr);
    sealed record Struct(string Name, int Pointers, List<Field> Fields);

    [GeneratedRegex(@"^\s*struct (\w+) @0x[0-9a-f]+ \{\s+# \d+ bytes, (\d+) ptrs$")]
    private static partial Regex StructRe();
    [GeneratedRegex(@"^\s*(\w+) @\d+ :(.+?);\s+# (?:bits\[\d+, \d+\)|ptr\[(\d+)\])")]
    private static partial Regex FieldRe();

    static Dictionary<string, Struct> Layout(string file)
    {
        var structs = new Dictionary<string, Struct>();
        Struct? current = null;
        foreach (string line in File.ReadAllLines(Path.Combine(RpcWire.RepoRoot, "src", "Podmon.Capnp", "Generator", file)))
        {
            Match m;
            if ((m = StructRe().Match(line)).Success)
                structs[m.Groups[1].Value] = current = new Struct(m.Groups[1].Value, int.Parse(m.Groups[2].Value), []);
            else if (current is not null && (m = FieldRe().Match(line)).Success)
                current.Fields.Add(new Field(m.Groups[1].Value, m.Groups[2].Value, m.Groups[3].Success ? int.Parse(m.Groups[3].Value) : -1));
        }
        return structs;
    }

    static readonly Dictionary<string, Struct> Current = Layout("conmon.capnp.layout.txt");
    static readonly Dictionary<string, Struct> Old = Layout("conmon-v0.7.3.capnp.layout.txt");

    static readonly SchemaGeneration.Shape[] Shapes =
    [
        SchemaGeneration.Version, SchemaGeneration.CreateContainer, SchemaGeneration.ExecSync, SchemaGeneration.Attach,
        SchemaGeneration.ReopenLog, SchemaGeneration.SetWindowSize, SchemaGeneration.CreateNamespaces,
    ];

    static Slot KindOf(string type) => type switch
    {
        "Text" or "Data" => Slot.ByteList,
        "List(Text)" => Slot.PointerList,
        "List(UInt64)" => Slot.EightByteList,
        "List(Namespace)" => Slot.TwoByteList, // an enum: 16 bits
        _ when type.StartsWith("List(") => Slot.StructList,
        _ => throw new InvalidOperationException($"no slot kind for {type}"),
    };

    [Fact]
    public void EveryStructThatDiffersIsAShapeOrTheVersionResponse()
    {
        Assert.Equal(Current.Keys.Order(), Old.Keys.Order());
        var differ = Current.Keys.Where(n => Current[n].Pointers != Old[n].Pointers || !Current[n].Fields.SequenceEqual(Old[n].Fields)).Order();
        Assert.Equal(Shapes.Select(s => s.Struct).Append("VersionResponse").Order(), differ);
        // The response that differs only gains v0.7's metadata :Data as one more, last pointer.
        Assert.Equal(Current["VersionResponse"].Pointers + 1, Old["VersionResponse"].Pointers);
        Assert.Equal(new Field("metadata", "Data", Current["VersionResponse"].Pointers), Old["VersionResponse"].Fields.Single(f => f.Name == "metadata"));
    }

    [Fact]
    public void ShapesMatchBothLayoutFiles()
    {
        foreach (SchemaGeneration.Shape shape in Shapes)
        {
            Struct now = Current[shape.Struct], old = Old[shape.Struct];
            Assert.Equal(now.Pointers, shape.CurrentPointers);
            Assert.Equal(old.Pointers, shape.OldPointers);
            Assert.Equal(new Field("metadataOld", "Void", -1), now.Fields.Single(f => f.Name == "metadataOld"));
            Assert.Equal(new Field("metadataOld", "Data", shape.OldSlot), old.Fields.Single(f => f.Name == "metadataOld"));
            foreach (Field f in now.Fields.Where(f => f.Name != "metadataOld"))
            {
                Field o = old.Fields.Single(x => x.Name == f.Name);
                Assert.Equal(f.Type, o.Type);
                if (f.Ptr < 0) Assert.Equal(-1, o.Ptr); // data fields are where they were
                else if (f.Ptr < shape.OldSlot) Assert.Equal(f.Ptr, o.Ptr);
                else
                {
                    Assert.True(o.Ptr == f.Ptr + 1, $"{shape.Struct}.{f.Name}: v0.7 ptr[{o.Ptr}], v1.0 ptr[{f.Ptr}]");
                    Assert.True(shape.Shifted[f.Ptr - shape.OldSlot] == KindOf(f.Type), $"{shape.Struct}.{f.Name} is a {f.Type}");
                }
            }
        }
    }

    [Fact]
    public void EveryMethodWhoseRequestDiffersHasItsShape()
    {
        foreach (ConmonMethod method in Enum.GetValues<ConmonMethod>())
        {
            string name = char.ToLowerInvariant(method.ToString()[0]) + method.ToString()[1..];
            string request = Regex.Match(File.ReadAllText(Path.Combine(RpcWire.RepoRoot, "src", "Podmon.Capnp", "Generator", "conmon.capnp.layout.txt")),
                $@"\b{name} @\d+ \(request :(\w+)\)").Groups[1].Value;
            Assert.Equal(Shapes.FirstOrDefault(s => s.Struct == request), SchemaGeneration.Of(method));
        }
    }

    sealed record Create(string Id, bool MetadataOld, (string, string)[] Metadata, (string, string)[] Env, ulong[] AdditionalFds, ulong[] LeakFds);

    static readonly Gen<(string, string)[]> Pairs = Gen.Select(Gen.String[Gen.Char.AlphaNumeric, 1, 8], Gen.String[Gen.Char.AlphaNumeric, 0, 8]).Array[0, 3];

    static readonly Gen<Create> Creates = Gen.Select(Gen.String[Gen.Char.AlphaNumeric, 0, 10], Gen.Bool, Pairs, Pairs,
        Gen.ULong.Array[0, 3], Gen.ULong.Array[0, 3]).Select((id, mo, meta, env, add, leak) => new Create(id, mo, meta, env, add, leak));

    static void SetPairs(PointerBuilder p, (string, string)[] pairs)
    {
        if (pairs.Length == 0) return; // unset lists stay null, as the clients leave them
        var list = new TextTextMapEntryListBuilder(p.InitStructList(pairs.Length, TextTextMapEntryBuilder.DataWords, TextTextMapEntryBuilder.PointerCount));
        for (int i = 0; i < pairs.Length; i++)
        {
            list[i].SetKey(pairs[i].Item1);
            list[i].SetValue(pairs[i].Item2);
        }
    }

    static void SetFds(PointerBuilder p, ulong[] fds)
    {
        if (fds.Length == 0) return;
        PrimitiveListBuilder<ulong> list = p.InitList<ulong>(fds.Length);
        for (int i = 0; i < fds.Length; i++) list[i] = fds[i];
    }

    /// <summary>The request in v1.0's layout, or in v0.7's (metadataOld at ptr8, the rest one higher).</summary>
    static byte[] Encode(Create c, bool old)
    {
        using var m = new MessageBuilder();
        StructBuilder s = m.InitRoot(CreateContainerRequestBuilder.DataWords, (ushort)(old ? 13 : 12));
        var b = new CreateContainerRequestBuilder(s);
        b.SetId(c.Id);
        b.Terminal = true;
        b.CgroupManager = Schema.CgroupManager.Cgroupfs;
        int shift = old ? 1 : 0;
        if (old && c.MetadataOld) s.GetPointer(8).SetData(Encoding.UTF8.GetBytes("{\"trace\":\"x\"}"));
        SetPairs(s.GetPointer(8 + shift), c.Metadata);
        SetPairs(s.GetPointer(9 + shift), c.Env);
        SetFds(s.GetPointer(10 + shift), c.AdditionalFds);
        SetFds(s.GetPointer(11 + shift), c.LeakFds);
        return m.Frame.ToArray();
    }

    static (string, string)[] Read(TextTextMapEntryListReader list)
    {
        var r = new (string, string)[list.Count];
        for (int i = 0; i < r.Length; i++) r[i] = (list[i].KeyString, list[i].ValueString);
        return r;
    }

    static ulong[] Read(PrimitiveListReader<ulong> list)
    {
        var r = new ulong[list.Count];
        for (int i = 0; i < r.Length; i++) r[i] = list[i];
        return r;
    }

    [Fact]
    public void CreateRequestsOfBothLayoutsReadTheSame()
    {
        Gen.Select(Creates, Gen.Bool).Sample((c, old) =>
        {
            byte[] frame = Encode(c, old);
            var ctx = new ReadContext();
            StructReader root = new MessageReader(frame, ref ctx).Root;
            bool detected = SchemaGeneration.IsOld(SchemaGeneration.CreateContainer, root);
            Assert.Equal(old, detected);
            var r = new CreateContainerRequestReader(detected ? root.WithoutPointer(SchemaGeneration.CreateContainer.OldSlot) : root);
            Assert.Equal(c.Id, r.IdString);
            Assert.True(r.Terminal);
            Assert.Equal(Schema.CgroupManager.Cgroupfs, r.CgroupManager);
            Assert.Equal(c.Metadata, Read(r.Metadata));
            Assert.Equal(c.Env, Read(r.EnvVars));
            Assert.Equal(c.AdditionalFds, Read(r.AdditionalFds));
            Assert.Equal(c.LeakFds, Read(r.LeakFds));
        }, iter: 2000);
    }

    [Fact]
    public void CreateNamespacesRequestsOfBothLayoutsReadTheSame()
    {
        foreach (bool old in new[] { false, true })
        {
            using var m = new MessageBuilder();
            StructBuilder s = m.InitRoot(0, (ushort)(old ? 7 : 6));
            int shift = old ? 1 : 0;
            if (old) s.GetPointer(0).SetData("{}"u8);
            PrimitiveListBuilder<ushort> ns = s.GetPointer(0 + shift).InitList<ushort>(2);
            ns[0] = (ushort)Namespace.Net;
            ns[1] = (ushort)Namespace.User;
            s.GetPointer(1 + shift).InitTextList(1).Set(0, "0 1000 1");
            s.GetPointer(3 + shift).SetText("/run/pods");
            s.GetPointer(4 + shift).SetText("pod1");
            var ctx = new ReadContext();
            StructReader root = new MessageReader(m.Frame, ref ctx).Root;
            Assert.Equal(old, SchemaGeneration.IsOld(SchemaGeneration.CreateNamespaces, root));
            var r = new CreateNamespacesRequestReader(old ? root.WithoutPointer(0) : root);
            Assert.Equal(2, r.Namespaces.Count);
            Assert.Equal(Namespace.User, r.Namespaces[1]);
            Assert.Equal("0 1000 1", r.UidMappings.GetString(0));
            Assert.Equal(0, r.GidMappings.Count);
            Assert.Equal("/run/pods", r.BasePathString);
            Assert.Equal("pod1", r.PodIdString);
        }
    }

    [Fact]
    public void AViewSkipsOneSlotAndReadsPastTheEndAsNull()
    {
        using var m = new MessageBuilder();
        StructBuilder s = m.InitRoot(0, 3);
        s.GetPointer(0).SetText("a");
        s.GetPointer(1).SetText("skipped");
        s.GetPointer(2).SetText("c");
        var ctx = new ReadContext();
        StructReader view = new MessageReader(m.Frame, ref ctx).Root.WithoutPointer(1);
        Assert.Equal("a", view.ReadTextString(0));
        Assert.Equal("c", view.ReadTextString(1));
        Assert.False(view.HasPointer(2));
        bool refused = false;
        try { view.WithoutPointer(0); }
        catch (ArgumentOutOfRangeException) { refused = true; } // one skipped slot per view
        Assert.True(refused);
    }

    sealed class Frames : IRpcOutput
    {
        public readonly List<byte[]> Sent = [];
        public bool Keep = true;
        public void Send(ReadOnlySpan<byte> frame)
        {
            if (Keep) Sent.Add(frame.ToArray());
        }
    }

    static byte[] Frame(Action<MessageBuilder> build)
    {
        using var m = new MessageBuilder();
        build(m);
        return m.Frame.ToArray();
    }

    /// <summary>A version call; in v0.7's layout with its metadataOld filled, as the Go client with tracing on.</summary>
    static byte[] VersionCall(uint q, bool old) => Frame(m =>
    {
        CallBuilder c = RpcMessageBuilder.InitRoot(m).InitCall();
        c.QuestionId = q;
        c.InterfaceId = Conmon.InterfaceId;
        c.MethodId = (ushort)ConmonMethod.Version;
        c.InitTarget().InitPromisedAnswer().QuestionId = 0;
        PointerBuilder request = VersionParamsBuilder.Init(c.InitParams().Content).RequestPointer;
        StructBuilder r = request.InitStruct(VersionRequestBuilder.DataWords, (ushort)(old ? 2 : 1));
        new VersionRequestBuilder(r).Verbose = true;
        if (old) r.GetPointer(0).SetData("{\"traceparent\":\"00-1-2-01\"}"u8);
        SetPairs(r.GetPointer(old ? 1 : 0), [("k", "v")]);
    });

    [Theory]
    [InlineData(false, 8)]
    [InlineData(true, 9)]
    public void VersionIsAnsweredInTheCallersLayoutAndAllocatesNothing(bool old, int responsePointers)
    {
        var output = new Frames();
        var session = new RpcSession(TestConmon.Create(), output);
        session.Receive(Frame(m => RpcMessageBuilder.InitRoot(m).InitBootstrap().QuestionId = 0));
        session.Receive(VersionCall(1, old));
        var ctx = new ReadContext();
        PayloadReader results = new RpcMessageReader(new MessageReader(output.Sent[^1], ref ctx).Root).Return.Results;
        StructReader response = results.Content.GetStruct().ReadStruct(0);
        Assert.Equal(responsePointers, response.PointerCount);
        Assert.Equal((uint)Environment.ProcessId, new VersionResponseReader(response).ProcessId);
        Assert.NotEqual(0, new VersionResponseReader(response).CargoTree.Length); // verbose was read from the data section
        session.Receive(Frame(m => RpcMessageBuilder.InitRoot(m).InitFinish().QuestionId = 1));

        output.Keep = false;
        byte[][] calls = Enumerable.Range(2, 64).Select(i => VersionCall((uint)i, old)).ToArray();
        byte[][] finishes = Enumerable.Range(2, 64).Select(i => Frame(m => RpcMessageBuilder.InitRoot(m).InitFinish().QuestionId = (uint)i)).ToArray();
        void Round()
        {
            foreach (byte[] c in calls) session.Receive(c);
            foreach (byte[] f in finishes) session.Receive(f);
        }
        for (int i = 0; i < 10; i++) Round();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 50; i++) Round();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.False(session.IsClosed, session.CloseReason);
    }
}
