using Podmon.Capnp.Rpc;
using Podmon.Schema;
using Xunit;

namespace Podmon.Capnp.Tests;

public class BuilderTests
{
    [Fact]
    public void FixedShapeMessagesMatchGoldenBytes()
    {
        using var mb = new MessageBuilder();
        RpcMessageBuilder.InitRoot(mb).InitBootstrap().QuestionId = 0;
        Assert.Equal(GoldenFrames.Load("bootstrap-request"), mb.Frame.ToArray());

        foreach ((string name, uint q) in new[] { ("finish-bootstrap", 0u), ("finish-call", 1u) })
        {
            mb.Reset();
            FinishBuilder f = RpcMessageBuilder.InitRoot(mb).InitFinish();
            f.QuestionId = q;
            f.ReleaseResultCaps = false;
            Assert.Equal(GoldenFrames.Load(name), mb.Frame.ToArray());
        }

        mb.Reset();
        ReleaseBuilder r = RpcMessageBuilder.InitRoot(mb).InitRelease();
        r.Id = 0;
        r.ReferenceCount = 1;
        Assert.Equal(GoldenFrames.Load("release-bootstrap-cap"), mb.Frame.ToArray());
    }

    [Fact]
    public void VersionResponseRoundTrip()
    {
        using var mb = new MessageBuilder(64); // forces growth
        BuildVersionReturn(mb, 7);
        ReadContext ctx = default;
        var m = new RpcMessageReader(new MessageReader(mb.Frame, ref ctx).Root);
        Assert.Equal(RpcMessageWhich.Return, m.Which);
        Assert.Equal(7u, m.Return.AnswerId);
        Assert.False(m.Return.ReleaseParamCaps);
        VersionResponseReader v = VersionResultsReader.From(m.Return.Results.Content).Response;
        Assert.Equal(4711u, v.ProcessId);
        Assert.Equal("0.1.0-podmon", v.VersionString);
        Assert.Equal("grüße ☃ 🐧", v.TagString);
        Assert.Equal("", v.CommitString);
        Assert.True(v.HasCommit);
        Assert.False(v.HasCargoTree);
        Assert.Equal("x86_64-unknown-linux-gnu", v.TargetString);
    }

    internal static void BuildVersionReturn(MessageBuilder mb, uint answerId)
    {
        ReturnBuilder ret = RpcMessageBuilder.InitRoot(mb).InitReturn();
        ret.AnswerId = answerId;
        ret.ReleaseParamCaps = false;
        VersionResponseBuilder v = VersionResultsBuilder.Init(ret.InitResults().Content).InitResponse();
        v.ProcessId = 4711;
        v.SetVersion("0.1.0-podmon");
        v.SetTag("grüße ☃ 🐧");
        v.SetCommit(""u8);
        v.SetBuildDate("1970-01-01 00:00:00 +00:00");
        v.SetTarget("x86_64-unknown-linux-gnu"u8);
        v.SetRustVersion("n/a");
        v.SetCargoVersion("n/a");
    }

    [Fact]
    public void CreateContainerRequestRoundTrip()
    {
        using var mb = new MessageBuilder();
        CreateContainerRequestBuilder req = CreateContainerParamsBuilder.InitRoot(mb).InitRequest();
        req.SetId("ctr1");
        req.SetBundlePath("/run/bundle/ctr1");
        req.Terminal = true;
        req.Stdin = false;
        TextListBuilder exits = req.InitExitPaths(2);
        exits.Set(0, "/a");
        exits.Set(1, "/b"u8);
        LogDriverListBuilder drivers = req.InitLogDrivers(2);
        LogDriverBuilder d0 = drivers[0], d1 = drivers[1];
        d0.Type = LogDriverType.Json;
        d0.SetPath("/log");
        d0.MaxSize = ulong.MaxValue;
        d1.Type = LogDriverType.Journald;
        TextTextMapEntryListBuilder env = req.InitEnvVars(1);
        env[0].SetKey("K");
        env[0].SetValue("V=1");
        req.CgroupManager = CgroupManager.Cgroupfs;
        PrimitiveListBuilder<ulong> fds = req.InitAdditionalFds(3);
        fds[0] = 3;
        fds[1] = 4;
        fds[2] = 1UL << 63;

        ReadContext ctx = default;
        CreateContainerRequestReader r = CreateContainerParamsReader.From(new MessageReader(mb.Frame, ref ctx).RootPointer).Request;
        Assert.Equal("ctr1", r.IdString);
        Assert.Equal("/run/bundle/ctr1", r.BundlePathString);
        Assert.True(r.Terminal);
        Assert.False(r.Stdin);
        Assert.Equal(["/a", "/b"], GoldenTests.Strings(r.ExitPaths));
        Assert.Equal(2, r.LogDrivers.Count);
        Assert.Equal((LogDriverType.Json, "/log", ulong.MaxValue), (r.LogDrivers[0].Type, r.LogDrivers[0].PathString, r.LogDrivers[0].MaxSize));
        Assert.Equal(LogDriverType.Journald, r.LogDrivers[1].Type);
        Assert.False(r.LogDrivers[1].HasPath);
        Assert.Equal(("K", "V=1"), (r.EnvVars[0].KeyString, r.EnvVars[0].ValueString));
        Assert.Equal(CgroupManager.Cgroupfs, r.CgroupManager);
        Assert.Equal(3, r.AdditionalFds.Count);
        Assert.Equal(1UL << 63, r.AdditionalFds[2]);
        Assert.False(r.HasLeakFds);
    }

    [Fact]
    public void ExecSyncResponseAndNamespacesRoundTrip()
    {
        using var mb = new MessageBuilder();
        ExecSyncContainerResponseBuilder e = ExecSyncContainerResultsBuilder.InitRoot(mb).InitResponse();
        e.ExitCode = -2;
        e.SetStdout([0xff, 0x00, 0x41]);
        e.SetStderr(ReadOnlySpan<byte>.Empty);
        e.TimedOut = true;
        ReadContext ctx = default;
        ExecSyncContainerResponseReader r = ExecSyncContainerResultsReader.From(new MessageReader(mb.Frame, ref ctx).RootPointer).Response;
        Assert.Equal(-2, r.ExitCode);
        Assert.Equal(new byte[] { 0xff, 0x00, 0x41 }, r.Stdout.ToArray());
        Assert.True(r.HasStderr);
        Assert.Equal(0, r.Stderr.Length);
        Assert.True(r.TimedOut);

        mb.Reset();
        CreateNamespacesRequestBuilder ns = CreateNamespacesParamsBuilder.InitRoot(mb).InitRequest();
        PrimitiveListBuilder<Namespace> list = ns.InitNamespaces(2);
        list[0] = Namespace.User;
        list[1] = Namespace.Pid;
        CreateNamespacesRequestReader nr = CreateNamespacesParamsReader.From(new MessageReader(mb.Frame, ref ctx).RootPointer).Request;
        Assert.Equal(ElementSize.TwoBytes, nr.Namespaces.List.ElementSize);
        Assert.Equal(Namespace.User, nr.Namespaces[0]);
        Assert.Equal(Namespace.Pid, nr.Namespaces[1]);
    }

    [Fact]
    public void ZeroSizedStructEncodesLikeCpp()
    {
        using var mb = new MessageBuilder();
        AttachContainerResultsBuilder.InitRoot(mb).InitResponse();
        byte[] frame = mb.Frame.ToArray();
        Assert.Equal(new byte[] { 0xfc, 0xff, 0xff, 0xff, 0, 0, 0, 0 }, frame.AsSpan(16, 8).ToArray());
        ReadContext ctx = default;
        Assert.True(AttachContainerResultsReader.From(new MessageReader(frame, ref ctx).RootPointer).HasResponse);
    }

    [Fact]
    public void ReturnWithCopiedExceptionAndCapability()
    {
        // Copy the exception of the golden error Return into a new Return, as the RPC layer would.
        byte[] golden = GoldenFrames.Load("create-namespaces-error-response");
        ReadContext ctx = default;
        var src = new RpcMessageReader(new MessageReader(golden, ref ctx).Root);
        using var mb = new MessageBuilder();
        ReturnBuilder ret = RpcMessageBuilder.InitRoot(mb).InitReturn();
        ret.AnswerId = 9;
        ret.Which = ReturnWhich.Exception;
        ret.ExceptionPointer.CopyFrom(src.Return.ExceptionPointer);

        ReadContext ctx2 = default;
        var m = new RpcMessageReader(new MessageReader(mb.Frame, ref ctx2).Root);
        Assert.Equal(ReturnWhich.Exception, m.Return.Which);
        Assert.True(m.Return.ReleaseParamCaps);
        Assert.Equal("pod ID not set", m.Return.Exception.ReasonString);
        Assert.Equal(ExceptionType.Failed, m.Return.Exception.Type);

        // Bootstrap return: capability content and a cap table.
        mb.Reset();
        ret = RpcMessageBuilder.InitRoot(mb).InitReturn();
        PayloadBuilder payload = ret.InitResults();
        payload.Content.SetCapability(0);
        CapDescriptorListBuilder caps = payload.InitCapTable(1);
        CapDescriptorBuilder cap = caps[0];
        cap.SenderHosted = 0;
        Assert.Equal(CapDescriptorWhich.SenderHosted, caps[0].Which);
        Assert.Equal((byte)255, caps[0].AttachedFd);
        m = new RpcMessageReader(new MessageReader(mb.Frame, ref ctx2).Root);
        Assert.Equal(0u, m.Return.Results.Content.GetCapability());
        Assert.Equal(CapDescriptorWhich.SenderHosted, m.Return.Results.CapTable[0].Which);
        Assert.Equal(mb.Frame.Length, GoldenFrames.Load("bootstrap-response").Length);
    }

    [Fact]
    public void CopyingEveryGoldenFramePreservesItsContent()
    {
        using var mb = new MessageBuilder();
        foreach (string path in GoldenFrames.AllPaths())
        {
            byte[] frame = File.ReadAllBytes(path);
            ReadContext ctx = default;
            mb.Reset();
            mb.Root.CopyFrom(new MessageReader(frame, ref ctx).RootPointer);
            ReadContext a = default, b = default;
            Assert.Equal(Dump.Of(new MessageReader(frame, ref a).RootPointer), Dump.Of(new MessageReader(mb.Frame, ref b).RootPointer));
        }
    }
}
