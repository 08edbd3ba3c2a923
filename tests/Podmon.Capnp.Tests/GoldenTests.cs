using System.Text;
using Podmon.Capnp.Rpc;
using Podmon.Schema;
using Xunit;

namespace Podmon.Capnp.Tests;

/// <summary>Decodes the frames recorded from the official C++ implementation and checks their .txt values.</summary>
public class GoldenTests
{
    public static TheoryData<string> Frames() => new(GoldenFrames.AllPaths().Select(p => Path.GetRelativePath(GoldenFrames.Dir, p)));

    [Theory]
    [MemberData(nameof(Frames))]
    public void EveryFrameParsesAndWalks(string relativePath)
    {
        byte[] frame = File.ReadAllBytes(Path.Combine(GoldenFrames.Dir, relativePath));
        Assert.Equal(FrameStatus.Complete, Framing.Check(frame, out int length));
        Assert.Equal(frame.Length, length);
        ReadContext ctx = default;
        var msg = new MessageReader(frame, ref ctx);
        Walker.WalkPointer(msg.RootPointer);
        Assert.True(Enum.IsDefined(new RpcMessageReader(msg.Root).Which));
    }

    [Fact]
    public void SessionStreamsSplitIntoTheRecordedFrames()
    {
        foreach (string dir in Directory.GetDirectories(Path.Combine(GoldenFrames.Dir, "sessions")))
        foreach (string side in new[] { "c2s", "s2c" })
        {
            byte[] stream = File.ReadAllBytes(Path.Combine(dir, side + ".bin"));
            string[] frames = Directory.GetFiles(dir, side + "-*.bin").Order(StringComparer.Ordinal).ToArray();
            int pos = 0, n = 0;
            while (pos < stream.Length)
            {
                // Feed the bytes in small chunks, as a socket might.
                int have = 0, length;
                while (Framing.Check(stream.AsSpan(pos, have), out length) == FrameStatus.NeedMore)
                {
                    Assert.True(length > have);
                    have = Math.Min(stream.Length - pos, Math.Max(length, have + 5));
                }
                Assert.Equal(File.ReadAllBytes(frames[n]), stream.AsSpan(pos, length).ToArray());
                pos += length;
                n++;
            }
            Assert.Equal(frames.Length, n);
        }
    }

    private static RpcMessageReader Read(byte[] frame, ref ReadContext ctx) => new(new MessageReader(frame, ref ctx).Root);

    private static void AssertPipelinedCall(CallReader call, ConmonMethod method)
    {
        Assert.Equal(1u, call.QuestionId);
        Assert.Equal(Conmon.InterfaceId, call.InterfaceId);
        Assert.Equal(13202276580202001393UL, call.InterfaceId);
        Assert.Equal((ushort)method, call.MethodId);
        Assert.Equal(CallSendResultsToWhich.Caller, call.SendResultsTo.Which);
        Assert.False(call.AllowThirdPartyTailCall);
        Assert.Equal(MessageTargetWhich.PromisedAnswer, call.Target.Which);
        Assert.Equal(0u, call.Target.PromisedAnswer.QuestionId);
        Assert.True(call.Target.PromisedAnswer.HasTransform);
        Assert.Equal(0, call.Target.PromisedAnswer.Transform.Count);
        Assert.Equal(0, call.Params.CapTable.Count);
    }

    private static ReturnReader AssertReturn(RpcMessageReader m, uint answerId, bool releaseParamCaps = false)
    {
        Assert.Equal(RpcMessageWhich.Return, m.Which);
        ReturnReader r = m.Return;
        Assert.Equal(answerId, r.AnswerId);
        Assert.Equal(releaseParamCaps, r.ReleaseParamCaps);
        return r;
    }

    private static string S(ReadOnlySpan<byte> utf8) => Encoding.UTF8.GetString(utf8);

    [Fact]
    public void Bootstrap()
    {
        ReadContext ctx = default;
        RpcMessageReader m = Read(GoldenFrames.Load("bootstrap-request"), ref ctx);
        Assert.Equal(RpcMessageWhich.Bootstrap, m.Which);
        Assert.Equal(0u, m.Bootstrap.QuestionId);
        Assert.False(m.Bootstrap.HasDeprecatedObjectId);

        m = Read(GoldenFrames.Load("bootstrap-response"), ref ctx);
        ReturnReader r = AssertReturn(m, 0, releaseParamCaps: true);
        Assert.Equal(ReturnWhich.Results, r.Which);
        Assert.Equal(PointerKind.Capability, r.Results.Content.Kind);
        Assert.Equal(0u, r.Results.Content.GetCapability());
        CapDescriptorListReader caps = r.Results.CapTable;
        Assert.Equal(1, caps.Count);
        Assert.Equal(CapDescriptorWhich.SenderHosted, caps[0].Which);
        Assert.Equal(0u, caps[0].SenderHosted);
        Assert.Equal((byte)255, caps[0].AttachedFd);
    }

    [Fact]
    public void FinishReleaseAbort()
    {
        ReadContext ctx = default;
        RpcMessageReader m = Read(GoldenFrames.Load("finish-bootstrap"), ref ctx);
        Assert.Equal(RpcMessageWhich.Finish, m.Which);
        Assert.Equal(0u, m.Finish.QuestionId);
        Assert.False(m.Finish.ReleaseResultCaps);

        m = Read(GoldenFrames.Load("finish-call"), ref ctx);
        Assert.Equal(1u, m.Finish.QuestionId);
        Assert.False(m.Finish.ReleaseResultCaps);

        m = Read(GoldenFrames.Load("release-bootstrap-cap"), ref ctx);
        Assert.Equal(RpcMessageWhich.Release, m.Which);
        Assert.Equal(0u, m.Release.Id);
        Assert.Equal(1u, m.Release.ReferenceCount);

        m = Read(GoldenFrames.Load("abort-peer-disconnected"), ref ctx);
        Assert.Equal(RpcMessageWhich.Abort, m.Which);
        Assert.Equal("Peer disconnected.", m.Abort.ReasonString);
        Assert.Equal(ExceptionType.Disconnected, m.Abort.Type);
        Assert.False(m.Abort.ObsoleteIsCallersFault);
        Assert.Equal(0, m.Abort.ObsoleteDurability);
    }

    [Fact]
    public void Version()
    {
        ReadContext ctx = default;
        RpcMessageReader m = Read(GoldenFrames.Load("version-request"), ref ctx);
        Assert.Equal(RpcMessageWhich.Call, m.Which);
        AssertPipelinedCall(m.Call, ConmonMethod.Version);
        VersionRequestReader req = VersionParamsReader.From(m.Call.Params.Content).Request;
        Assert.False(req.Verbose);
        Assert.Equal(0, req.Metadata.Count);

        ReturnReader r = AssertReturn(Read(GoldenFrames.Load("version-response"), ref ctx), 1);
        Assert.Equal(ReturnWhich.Results, r.Which);
        VersionResponseReader v = VersionResultsReader.From(r.Results.Content).Response;
        Assert.Equal(4711u, v.ProcessId);
        Assert.Equal("0.0.0-mock", v.VersionString);
        Assert.True("mock"u8.SequenceEqual(v.Tag));
        Assert.Equal(new string('0', 40), v.CommitString);
        Assert.Equal("1970-01-01 00:00:00 +00:00", v.BuildDateString);
        Assert.Equal("x86_64-unknown-linux-gnu", v.TargetString);
        Assert.Equal("n/a (C++ mock)", v.RustVersionString);
        Assert.Equal("n/a (C++ mock)", v.CargoVersionString);
        Assert.Equal("", v.CargoTreeString);
        Assert.True(v.HasCargoTree); // C++ writes "" as a 1-byte NUL text, not a null pointer
    }

    [Fact]
    public void VersionVerboseMeta()
    {
        ReadContext ctx = default;
        RpcMessageReader m = Read(GoldenFrames.Load("version-verbose-meta-request"), ref ctx);
        VersionRequestReader req = VersionParamsReader.From(m.Call.Params.Content).Request;
        Assert.True(req.Verbose);
        TextTextMapEntryListReader meta = req.Metadata;
        Assert.Equal(ElementSize.InlineComposite, meta.List.ElementSize);
        Assert.Equal(2, meta.Count);
        Assert.Equal("traceparent", meta[0].KeyString);
        Assert.Equal("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", meta[0].ValueString);
        Assert.Equal("foo", meta[1].KeyString);
        Assert.Equal("bar", meta[1].ValueString);

        ReturnReader r = AssertReturn(Read(GoldenFrames.Load("version-verbose-meta-response"), ref ctx), 1);
        VersionResponseReader v = VersionResultsReader.From(r.Results.Content).Response;
        Assert.Equal(4711u, v.ProcessId);
        Assert.Equal("mock-conmon-server (cargo tree placeholder)", v.CargoTreeString);
    }

    [Fact]
    public void CreateContainer()
    {
        ReadContext ctx = default;
        RpcMessageReader m = Read(GoldenFrames.Load("create-container-request"), ref ctx);
        AssertPipelinedCall(m.Call, ConmonMethod.CreateContainer);
        CreateContainerRequestReader req = CreateContainerParamsReader.From(m.Call.Params.Content).Request;
        Assert.Equal("ctr1", req.IdString);
        Assert.Equal("/run/bundle/ctr1", req.BundlePathString);
        Assert.True(req.Terminal);
        Assert.True(req.Stdin);
        Assert.Equal(["/run/exits/ctr1"], Strings(req.ExitPaths));
        Assert.Equal(["/run/oom/ctr1"], Strings(req.OomExitPaths));
        LogDriverListReader drivers = req.LogDrivers;
        Assert.Equal(2, drivers.Count);
        Assert.Equal(LogDriverType.ContainerRuntimeInterface, drivers[0].Type);
        Assert.Equal("/var/log/pods/ctr1.log", drivers[0].PathString);
        Assert.Equal(1048576UL, drivers[0].MaxSize);
        Assert.Equal(LogDriverType.Journald, drivers[1].Type);
        Assert.Equal("", drivers[1].PathString);
        Assert.Equal(0UL, drivers[1].MaxSize);
        Assert.Equal(["/usr/bin/cleanup", "ctr1"], Strings(req.CleanupCmd));
        Assert.Equal(["--root=/run/runc", "--systemd-cgroup"], Strings(req.GlobalArgs));
        Assert.Equal(["--no-pivot"], Strings(req.CommandArgs));
        Assert.Equal(1, req.Metadata.Count);
        Assert.Equal("traceparent", req.Metadata[0].KeyString);
        Assert.Equal("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", req.Metadata[0].ValueString);
        Assert.Equal(2, req.EnvVars.Count);
        Assert.Equal(("FOO", "bar"), (req.EnvVars[0].KeyString, req.EnvVars[0].ValueString));
        Assert.Equal(("PATH", "/usr/bin:/bin"), (req.EnvVars[1].KeyString, req.EnvVars[1].ValueString));
        Assert.Equal(CgroupManager.Cgroupfs, req.CgroupManager);
        Assert.Equal(2, req.AdditionalFds.Count);
        Assert.Equal(3UL, req.AdditionalFds[0]);
        Assert.Equal(5UL, req.AdditionalFds[1]);
        Assert.Equal(1, req.LeakFds.Count);
        Assert.Equal(4UL, req.LeakFds[0]);

        ReturnReader r = AssertReturn(Read(GoldenFrames.Load("create-container-response"), ref ctx), 1);
        Assert.Equal(4242u, CreateContainerResultsReader.From(r.Results.Content).Response.ContainerPid);
    }

    [Fact]
    public void CreateContainerMinimal()
    {
        ReadContext ctx = default;
        RpcMessageReader m = Read(GoldenFrames.Load("create-container-minimal-request"), ref ctx);
        CreateContainerRequestReader req = CreateContainerParamsReader.From(m.Call.Params.Content).Request;
        Assert.Equal("ctr1", req.IdString);
        Assert.Equal("/run/bundle/ctr1", req.BundlePathString);
        Assert.False(req.Terminal);
        Assert.False(req.Stdin);
        Assert.False(req.HasExitPaths);
        Assert.Equal(0, req.ExitPaths.Count);
        Assert.Equal(0, req.LogDrivers.Count);
        Assert.Equal(0, req.EnvVars.Count);
        Assert.Equal(0, req.AdditionalFds.Count);
        Assert.Equal(CgroupManager.Systemd, req.CgroupManager);
        ReturnReader r = AssertReturn(Read(GoldenFrames.Load("create-container-minimal-response"), ref ctx), 1);
        Assert.Equal(4242u, CreateContainerResultsReader.From(r.Results.Content).Response.ContainerPid);
    }

    [Fact]
    public void CreateContainerTwoSegments()
    {
        byte[] frame = GoldenFrames.Load("create-container-two-segments-request");
        Assert.Equal(12288, frame.Length);
        ReadContext ctx = default;
        var msg = new MessageReader(frame, ref ctx);
        Assert.Equal(2, msg.SegmentCount);
        var m = new RpcMessageReader(msg.Root);
        AssertPipelinedCall(m.Call, ConmonMethod.CreateContainer);
        CreateContainerRequestReader req = CreateContainerParamsReader.From(m.Call.Params.Content).Request;
        Assert.Equal(new string('y', 6000), req.IdString);
        Assert.Equal(new string('y', 6000), req.BundlePathString);
        Assert.Equal(0, req.CommandArgs.Count);
        Assert.Equal(CgroupManager.Systemd, req.CgroupManager);
        ReturnReader r = AssertReturn(Read(GoldenFrames.Load("create-container-two-segments-response"), ref ctx), 1);
        Assert.Equal(4242u, CreateContainerResultsReader.From(r.Results.Content).Response.ContainerPid);
    }

    [Fact]
    public void CreateContainerThreeSegmentsWithFarPointers()
    {
        byte[] frame = GoldenFrames.Load("create-container-large-request");
        Assert.Equal(20312, frame.Length);
        ReadContext ctx = default;
        var msg = new MessageReader(frame, ref ctx);
        Assert.Equal(3, msg.SegmentCount);
        var m = new RpcMessageReader(msg.Root);
        AssertPipelinedCall(m.Call, ConmonMethod.CreateContainer); // transform is behind a far pointer with a trailing landing pad
        CreateContainerRequestReader req = CreateContainerParamsReader.From(m.Call.Params.Content).Request;
        Assert.Equal("big", req.IdString);
        Assert.Equal("/run/bundle/big", req.BundlePathString);
        Assert.Equal(1, req.CommandArgs.Count);
        Assert.Equal(new string('x', 20000), req.CommandArgs.GetString(0));
        Assert.Equal(0, req.EnvVars.Count);
        ReturnReader r = AssertReturn(Read(GoldenFrames.Load("create-container-large-response"), ref ctx), 1);
        Assert.Equal(4242u, CreateContainerResultsReader.From(r.Results.Content).Response.ContainerPid);
    }

    [Fact]
    public void ExecSync()
    {
        ReadContext ctx = default;
        RpcMessageReader m = Read(GoldenFrames.Load("exec-sync-request"), ref ctx);
        AssertPipelinedCall(m.Call, ConmonMethod.ExecSyncContainer);
        ExecSyncContainerRequestReader req = ExecSyncContainerParamsReader.From(m.Call.Params.Content).Request;
        Assert.Equal("ctr1", req.IdString);
        Assert.Equal(5UL, req.TimeoutSec);
        Assert.Equal(["/bin/sh", "-c", "echo hi"], Strings(req.Command));
        Assert.False(req.Terminal);
        Assert.Equal(0, req.Metadata.Count);
        Assert.Equal(1, req.EnvVars.Count);
        Assert.Equal(("A", "1"), (req.EnvVars[0].KeyString, req.EnvVars[0].ValueString));
        Assert.Equal(CgroupManager.Systemd, req.CgroupManager);

        ReturnReader r = AssertReturn(Read(GoldenFrames.Load("exec-sync-response"), ref ctx), 1);
        ExecSyncContainerResponseReader resp = ExecSyncContainerResultsReader.From(r.Results.Content).Response;
        Assert.Equal(3, resp.ExitCode);
        Assert.Equal("L2Jpbi9zaCAtYyBlY2hvIGhp", Convert.ToBase64String(resp.Stdout));
        Assert.Equal("/bin/sh -c echo hi", S(resp.Stdout));
        Assert.Equal("", Convert.ToBase64String(resp.Stderr));
        Assert.False(resp.TimedOut);
    }

    [Fact]
    public void Attach()
    {
        ReadContext ctx = default;
        RpcMessageReader m = Read(GoldenFrames.Load("attach-request"), ref ctx);
        AssertPipelinedCall(m.Call, ConmonMethod.AttachContainer);
        AttachRequestReader req = AttachContainerParamsReader.From(m.Call.Params.Content).Request;
        Assert.Equal("ctr1", req.IdString);
        Assert.Equal("/run/attach/ctr1", req.SocketPathString);
        Assert.Equal("sess1", req.ExecSessionIdString);
        Assert.True(req.StopAfterStdinEof);
        Assert.Equal(0, req.Metadata.Count);

        byte[] frame = GoldenFrames.Load("attach-response");
        ReturnReader r = AssertReturn(Read(frame, ref ctx), 1);
        AttachContainerResultsReader results = AttachContainerResultsReader.From(r.Results.Content);
        Assert.True(results.HasResponse);
        Assert.Equal(0xFFFF_FFFCUL, results.ResponsePointer.RawWord); // fc ff ff ff 00 00 00 00
        Assert.Equal(PointerKind.Struct, results.ResponsePointer.Kind);
        Assert.Equal(0, results.Response.Struct.DataBytes);
        Assert.Equal(0, results.Response.Struct.PointerCount);
    }

    [Fact]
    public void CreateNamespaces()
    {
        ReadContext ctx = default;
        RpcMessageReader m = Read(GoldenFrames.Load("create-namespaces-request"), ref ctx);
        AssertPipelinedCall(m.Call, ConmonMethod.CreateNamespaces);
        CreateNamespacesRequestReader req = CreateNamespacesParamsReader.From(m.Call.Params.Content).Request;
        Assert.Equal(ElementSize.TwoBytes, req.Namespaces.List.ElementSize);
        Assert.Equal(3, req.Namespaces.Count);
        Assert.Equal(Namespace.Ipc, req.Namespaces[0]);
        Assert.Equal(Namespace.Net, req.Namespaces[1]);
        Assert.Equal(Namespace.Uts, req.Namespaces[2]);
        Assert.Equal(["0 1000 1"], Strings(req.UidMappings));
        Assert.Equal(["0 1000 1"], Strings(req.GidMappings));
        Assert.Equal("/var/run", req.BasePathString);
        Assert.Equal("pod1", req.PodIdString);
        Assert.Equal(0, req.Metadata.Count);

        ReturnReader r = AssertReturn(Read(GoldenFrames.Load("create-namespaces-response"), ref ctx), 1);
        NamespaceResponseListReader ns = CreateNamespacesResultsReader.From(r.Results.Content).Response.Namespaces;
        Assert.Equal(3, ns.Count);
        Assert.Equal((Namespace.Ipc, "/var/run/ipcns/pod1"), (ns[0].Type, ns[0].PathString));
        Assert.Equal((Namespace.Net, "/var/run/netns/pod1"), (ns[1].Type, ns[1].PathString));
        Assert.Equal((Namespace.Uts, "/var/run/utsns/pod1"), (ns[2].Type, ns[2].PathString));
    }

    [Fact]
    public void CreateNamespacesError()
    {
        ReadContext ctx = default;
        RpcMessageReader m = Read(GoldenFrames.Load("create-namespaces-error-request"), ref ctx);
        CreateNamespacesRequestReader req = CreateNamespacesParamsReader.From(m.Call.Params.Content).Request;
        Assert.Equal(0, req.Namespaces.Count);
        Assert.Equal("", req.BasePathString);
        Assert.Equal("", req.PodIdString);

        ReturnReader r = AssertReturn(Read(GoldenFrames.Load("create-namespaces-error-response"), ref ctx), 1);
        Assert.Equal(ReturnWhich.Exception, r.Which);
        Assert.Equal("pod ID not set", r.Exception.ReasonString);
        Assert.Equal(ExceptionType.Failed, r.Exception.Type);
        Assert.False(r.Exception.ObsoleteIsCallersFault);
        Assert.Equal(0, r.Exception.ObsoleteDurability);
    }

    [Fact]
    public void SetWindowSize()
    {
        ReadContext ctx = default;
        RpcMessageReader m = Read(GoldenFrames.Load("set-window-size-request"), ref ctx);
        AssertPipelinedCall(m.Call, ConmonMethod.SetWindowSizeContainer);
        SetWindowSizeRequestReader req = SetWindowSizeContainerParamsReader.From(m.Call.Params.Content).Request;
        Assert.Equal("ctr1", req.IdString);
        Assert.Equal(80, req.Width);
        Assert.Equal(24, req.Height);
        ReturnReader r = AssertReturn(Read(GoldenFrames.Load("set-window-size-response"), ref ctx), 1);
        Assert.True(SetWindowSizeContainerResultsReader.From(r.Results.Content).HasResponse);
    }

    [Fact]
    public void ServeExec()
    {
        ReadContext ctx = default;
        RpcMessageReader m = Read(GoldenFrames.Load("serve-exec-request"), ref ctx);
        AssertPipelinedCall(m.Call, ConmonMethod.ServeExecContainer);
        ServeExecContainerRequestReader req = ServeExecContainerParamsReader.From(m.Call.Params.Content).Request;
        Assert.Equal(0, req.Metadata.Count);
        Assert.Equal("ctr1", req.IdString);
        Assert.Equal(["/bin/bash", "-l"], Strings(req.Command));
        Assert.True(req.Tty);
        Assert.True(req.Stdin);
        Assert.True(req.Stdout);
        Assert.False(req.Stderr);
        Assert.Equal(CgroupManager.Systemd, req.CgroupManager);
        ReturnReader r = AssertReturn(Read(GoldenFrames.Load("serve-exec-response"), ref ctx), 1);
        Assert.Equal("", ServeExecContainerResultsReader.From(r.Results.Content).Response.UrlString);
    }

    internal static string[] Strings(TextListReader list)
    {
        var result = new string[list.Count];
        for (int i = 0; i < result.Length; i++)
            result[i] = list.GetString(i);
        return result;
    }
}
