using System.Text;
using CsCheck;
using Podmon.Capnp;
using Podmon.Capnp.Rpc;
using Podmon.Rpc;
using Podmon.Schema;
using Shape = Podmon.Schema.ConmonV073Layout.Shape;

namespace Podmon.Tests.Rpc;

/// <summary>
/// The v0.7 / v1.0 request shapes, <see cref="ConmonV073Layout"/>, which the generator derives from the
/// two compiled schemas (checked field by field against both in Podmon.Capnp.Tests' GeneratorTests), and
/// requests written in either layout read back to the same values through the one set of generated
/// readers, each constructed for the layout detected.
/// </summary>
public class SchemaGenerationTests
{
    static readonly ConmonMethod[] Differing = Enum.GetValues<ConmonMethod>().Where(m => ConmonV073Layout.Request(m) is not null).ToArray();
    static readonly Shape[] Requests = Differing.Select(m => ConmonV073Layout.Request(m)!).ToArray();

    [Fact]
    public void TheShapesAreTheGeneratedTableAndFitTheAccessors()
    {
        foreach (ConmonMethod method in Enum.GetValues<ConmonMethod>())
            Assert.Same(ConmonV073Layout.Request(method), SchemaGeneration.Of(method));
        Assert.Equal(7, Requests.Length);
        // Each request's v1.0 pointer count is that of the accessors the handlers read it with.
        Assert.Equal(VersionRequestReader.PointerCount, ConmonV073Layout.VersionRequest.CurrentPointers);
        Assert.Equal(CreateContainerRequestReader.PointerCount, ConmonV073Layout.CreateContainerRequest.CurrentPointers);
        Assert.Equal(ExecSyncContainerRequestReader.PointerCount, ConmonV073Layout.ExecSyncContainerRequest.CurrentPointers);
        Assert.Equal(AttachRequestReader.PointerCount, ConmonV073Layout.AttachRequest.CurrentPointers);
        Assert.Equal(ReopenLogRequestReader.PointerCount, ConmonV073Layout.ReopenLogRequest.CurrentPointers);
        Assert.Equal(SetWindowSizeRequestReader.PointerCount, ConmonV073Layout.SetWindowSizeRequest.CurrentPointers);
        Assert.Equal(CreateNamespacesRequestReader.PointerCount, ConmonV073Layout.CreateNamespacesRequest.CurrentPointers);
        // version answers a v0.7 caller with one pointer more (ConmonService): v0.7's metadata :Data, last.
        Assert.Same(ConmonV073Layout.VersionResponse, ConmonV073Layout.Response(ConmonMethod.Version));
        Assert.Equal(VersionResponseBuilder.PointerCount, ConmonV073Layout.VersionResponse.OldSlot);
        Assert.Equal(VersionResponseBuilder.PointerCount + 1, ConmonV073Layout.VersionResponse.OldPointers);
        Assert.Equal(["VersionResponse"], ConmonV073Layout.All.Except(Requests).Select(s => s.Struct));
    }

    static void SetList(PointerBuilder p, ElementSize size, int count)
    {
        if (size == ElementSize.InlineComposite) p.InitStructList(count, 1, 0);
        else p.InitList(size, count);
    }

    /// <summary>
    /// The generated reader's pointer <paramref name="k"/> from the request's old slot on (in v1.0's order),
    /// read in the given layout: the accessors the handlers use, one per shifted field.
    /// </summary>
    static PointerReader Shifted(ConmonMethod method, StructReader s, bool old, int k) => (method, k) switch
    {
        (ConmonMethod.Version, 0) => new VersionRequestReader(s, old).MetadataPointer,
        (ConmonMethod.CreateContainer, 0) => new CreateContainerRequestReader(s, old).MetadataPointer,
        (ConmonMethod.CreateContainer, 1) => new CreateContainerRequestReader(s, old).EnvVarsPointer,
        (ConmonMethod.CreateContainer, 2) => new CreateContainerRequestReader(s, old).AdditionalFdsPointer,
        (ConmonMethod.CreateContainer, 3) => new CreateContainerRequestReader(s, old).LeakFdsPointer,
        (ConmonMethod.ExecSyncContainer, 0) => new ExecSyncContainerRequestReader(s, old).MetadataPointer,
        (ConmonMethod.ExecSyncContainer, 1) => new ExecSyncContainerRequestReader(s, old).EnvVarsPointer,
        (ConmonMethod.AttachContainer, 0) => new AttachRequestReader(s, old).MetadataPointer,
        (ConmonMethod.ReopenLogContainer, 0) => new ReopenLogRequestReader(s, old).MetadataPointer,
        (ConmonMethod.SetWindowSizeContainer, 0) => new SetWindowSizeRequestReader(s, old).MetadataPointer,
        (ConmonMethod.CreateNamespaces, 0) => new CreateNamespacesRequestReader(s, old).NamespacesPointer,
        (ConmonMethod.CreateNamespaces, 1) => new CreateNamespacesRequestReader(s, old).UidMappingsPointer,
        (ConmonMethod.CreateNamespaces, 2) => new CreateNamespacesRequestReader(s, old).GidMappingsPointer,
        (ConmonMethod.CreateNamespaces, 3) => new CreateNamespacesRequestReader(s, old).BasePathPointer,
        (ConmonMethod.CreateNamespaces, 4) => new CreateNamespacesRequestReader(s, old).PodIdPointer,
        (ConmonMethod.CreateNamespaces, 5) => new CreateNamespacesRequestReader(s, old).MetadataPointer,
        _ => throw new InvalidOperationException($"{method} has no shifted pointer {k}"),
    };

    /// <summary>
    /// Any request shape in either layout, its metadataOld (v0.7) and each shifted pointer null or a list
    /// of its kind: the layout is told right, the generated reader constructed for it reads each shifted
    /// pointer from its slot, and metadataOld is there for a v0.7 request only.
    /// </summary>
    [Fact]
    public void EveryRequestShapeTellsTheLayoutsApart()
    {
        Gen.Select(Gen.Int[0, Requests.Length - 1], Gen.Bool, Gen.Bool, Gen.Bool.Array[8]).Sample((i, old, metadataOld, present) =>
        {
            ConmonMethod method = Differing[i];
            Shape shape = Requests[i];
            using var m = new MessageBuilder();
            StructBuilder s = m.InitRoot(2, (ushort)(old ? shape.OldPointers : shape.CurrentPointers));
            int shift = old ? 1 : 0;
            if (old && metadataOld) s.GetPointer(shape.OldSlot).SetData("{}"u8);
            for (int k = 0; k < shape.Shifted.Length; k++)
                if (present[k]) SetList(s.GetPointer(shape.OldSlot + k + shift), shape.Shifted[k], k + 1);
            var ctx = new ReadContext();
            StructReader root = new MessageReader(m.Frame, ref ctx).Root;
            Assert.Equal(old, SchemaGeneration.IsOld(shape, root));
            for (int k = 0; k < shape.Shifted.Length; k++)
            {
                PointerReader p = Shifted(method, root, old, k);
                Assert.Equal(present[k], !p.IsNull);
                if (present[k]) Assert.Equal((shape.Shifted[k], k + 1), (p.GetList().ElementSize, p.GetList().Count));
            }
            Assert.Equal(old && metadataOld ? "{}" : "", Encoding.UTF8.GetString(SchemaGeneration.MetadataOld(method, root, old)));
        }, iter: 2000);
    }

    sealed record Create(string Id, bool MetadataOld, (string, string)[] Metadata, (string, string)[] Env, ulong[] AdditionalFds, ulong[] LeakFds,
        (string Path, ulong MaxSize)[] LogDrivers, string[] CommandArgs);

    static readonly Gen<(string, string)[]> Pairs = Gen.Select(Gen.String[Gen.Char.AlphaNumeric, 1, 8], Gen.String[Gen.Char.AlphaNumeric, 0, 8]).Array[0, 3];

    static readonly Gen<string> Word = Gen.String[Gen.Char.AlphaNumeric, 0, 10];

    static readonly Gen<Create> Creates = Gen.Select(Gen.Select(Word, Gen.Bool, Pairs, Pairs), Gen.ULong.Array[0, 3], Gen.ULong.Array[0, 3],
        Gen.Select(Word, Gen.ULong).Array[0, 3], Word.Array[0, 4]).Select((head, add, leak, logs, args) =>
            new Create(head.Item1, head.Item2, head.Item3, head.Item4, add, leak, logs, args));

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

    static readonly byte[] TraceJson = "{\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\"}"u8.ToArray();

    /// <summary>createContainer params with the request in v1.0's layout, or in v0.7's (metadataOld at ptr8, the rest one higher).</summary>
    static byte[] Encode(Create c, bool old)
    {
        using var m = new MessageBuilder();
        var parameters = new CreateContainerParamsBuilder(m.InitRoot(CreateContainerParamsBuilder.DataWords, CreateContainerParamsBuilder.PointerCount));
        StructBuilder s = parameters.RequestPointer.InitStruct(CreateContainerRequestBuilder.DataWords, (ushort)(old ? 13 : 12));
        var b = new CreateContainerRequestBuilder(s);
        b.SetId(c.Id);
        b.Terminal = true;
        b.CgroupManager = Schema.CgroupManager.Cgroupfs;
        if (c.LogDrivers.Length > 0)
        {
            LogDriverListBuilder logs = b.InitLogDrivers(c.LogDrivers.Length);
            for (int i = 0; i < c.LogDrivers.Length; i++)
            {
                LogDriverBuilder d = logs[i];
                d.Type = LogDriverType.Json;
                d.SetPath(c.LogDrivers[i].Path);
                d.MaxSize = c.LogDrivers[i].MaxSize;
            }
        }
        TextListBuilder args = b.InitCommandArgs(c.CommandArgs.Length);
        for (int i = 0; i < c.CommandArgs.Length; i++) args.Set(i, c.CommandArgs[i]);
        int shift = old ? 1 : 0;
        if (old && c.MetadataOld) s.GetPointer(8).SetData(TraceJson);
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

    /// <summary>
    /// A createContainer request in either layout, as the params of a call: detected, then read through
    /// the reader constructed for its layout, nested structs and lists included, and its metadata and
    /// (v0.7) metadataOld through <see cref="SchemaGeneration"/> as well.
    /// </summary>
    [Fact]
    public void CreateRequestsOfBothLayoutsReadTheSame()
    {
        Gen.Select(Creates, Gen.Bool).Sample((c, old) =>
        {
            var ctx = new ReadContext();
            StructReader parameters = new MessageReader(Encode(c, old), ref ctx).Root;
            StructReader request = SchemaGeneration.Request(ConmonMethod.CreateContainer, parameters, out bool detected);
            Assert.Equal(old, detected);
            var r = new CreateContainerRequestReader(request, detected);
            Assert.Equal(old, r.IsConmonV073);
            Assert.Equal(c.Id, r.IdString);
            Assert.True(r.Terminal);
            Assert.Equal(Schema.CgroupManager.Cgroupfs, r.CgroupManager);
            var logs = new (string, ulong)[r.LogDrivers.Count];
            for (int i = 0; i < logs.Length; i++)
            {
                LogDriverReader d = r.LogDrivers[i];
                Assert.Equal(LogDriverType.Json, d.Type);
                logs[i] = (d.PathString, d.MaxSize);
            }
            Assert.Equal(c.LogDrivers, logs);
            var args = new string[r.CommandArgs.Count];
            for (int i = 0; i < args.Length; i++) args[i] = r.CommandArgs.GetString(i);
            Assert.Equal(c.CommandArgs, args);
            Assert.Equal(c.Metadata, Read(r.Metadata));
            Assert.Equal(c.Metadata, Read(SchemaGeneration.Metadata(ConmonMethod.CreateContainer, request, detected)));
            Assert.Equal(c.Env, Read(r.EnvVars));
            Assert.Equal(c.AdditionalFds, Read(r.AdditionalFds));
            Assert.Equal(c.LeakFds, Read(r.LeakFds));
            byte[] metadataOld = old && c.MetadataOld ? TraceJson : [];
            Assert.Equal(metadataOld, r.MetadataOld.ToArray());
            Assert.Equal(old && c.MetadataOld, r.HasMetadataOld);
            Assert.Equal(metadataOld, SchemaGeneration.MetadataOld(ConmonMethod.CreateContainer, request, detected).ToArray());
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
            Assert.Equal(old, SchemaGeneration.IsOld(ConmonV073Layout.CreateNamespacesRequest, root));
            var r = new CreateNamespacesRequestReader(root, old);
            Assert.Equal(2, r.Namespaces.Count);
            Assert.Equal(Namespace.User, r.Namespaces[1]);
            Assert.Equal("0 1000 1", r.UidMappings.GetString(0));
            Assert.Equal(0, r.GidMappings.Count);
            Assert.Equal("/run/pods", r.BasePathString);
            Assert.Equal("pod1", r.PodIdString);
        }
    }

    /// <summary>
    /// A reader for v1.0's layout has no metadataOld, whatever its slot holds there (v1.0's metadata); one
    /// for v0.7's reads the slots a shorter struct lacks (an older client's) as null, as the general reader does.
    /// </summary>
    [Fact]
    public void MetadataOldIsV07sAndMissingSlotsReadAsNull()
    {
        var c = new Create("x", false, [("traceparent", "00-1-2-01")], [("A", "1")], [], [], [], []);
        var ctx = new ReadContext();
        StructReader current = SchemaGeneration.Request(ConmonMethod.CreateContainer, new MessageReader(Encode(c, old: false), ref ctx).Root, out bool old);
        Assert.False(old);
        var r = new CreateContainerRequestReader(current, old);
        Assert.True(r.HasMetadata); // pointer 8: v1.0's metadata, a struct list
        Assert.False(r.HasMetadataOld);
        Assert.True(r.MetadataOld.IsEmpty);
        Assert.True(SchemaGeneration.MetadataOld(ConmonMethod.CreateContainer, current, old).IsEmpty);
        Assert.Equal(c.Metadata, Read(SchemaGeneration.Metadata(ConmonMethod.CreateContainer, current, old)));

        using var m = new MessageBuilder();
        StructBuilder s = m.InitRoot(CreateContainerRequestBuilder.DataWords, 10); // v0.7's layout up to metadata
        s.GetPointer(0).SetText("short");
        s.GetPointer(8).SetData(TraceJson);
        SetPairs(s.GetPointer(9), [("k", "v")]);
        var ctx2 = new ReadContext();
        var shorter = new CreateContainerRequestReader(new MessageReader(m.Frame, ref ctx2).Root, conmonV073: true);
        Assert.Equal("short", shorter.IdString);
        Assert.Equal(TraceJson, shorter.MetadataOld.ToArray());
        Assert.Equal([("k", "v")], Read(shorter.Metadata));
        Assert.False(shorter.HasEnvVars);
        Assert.Equal(0, shorter.LeakFds.Count);
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
