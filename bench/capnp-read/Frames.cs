using Podmon.Capnp;
using Podmon.Schema;

namespace CapnpRead;

/// <summary>
/// The messages read: a CreateContainer call's params as CRI-O sends them, in the v1.0 layout and in
/// the v0.7.x layout (metadataOld :Data at pointer 8 with a W3C traceparent as JSON, every later pointer
/// one slot higher), a Version call's params in both, and one large v1.0 request.
/// </summary>
static class Frames
{
    const string Id = "3f1c0a9e5b7d4c2a8e6f0b1d3c5a7e9f2b4d6f8a0c2e4a6b8d0f2a4c6e8b0d2f";
    const string Trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    /// <summary>What the v0.7.3 Go client puts in metadataOld with tracing on: the metadata map as JSON.</summary>
    static readonly byte[] MetadataOld = System.Text.Encoding.UTF8.GetBytes($"{{\"traceparent\":\"{Trace}\"}}");

    /// <summary>createContainer params; <paramref name="envVars"/> and <paramref name="args"/> size it.</summary>
    public static byte[] Create(bool old, int envVars = 12, int args = 4)
    {
        using var m = new MessageBuilder();
        var p = new CreateContainerParamsBuilder(m.InitRoot(CreateContainerParamsBuilder.DataWords, CreateContainerParamsBuilder.PointerCount));
        StructBuilder s = p.RequestPointer.InitStruct(CreateContainerRequestBuilder.DataWords, (ushort)(CreateContainerRequestBuilder.PointerCount + (old ? 1 : 0)));
        var r = new CreateContainerRequestBuilder(s);
        int Slot(int v1) => old && v1 >= 8 ? v1 + 1 : v1; // v1.0 slot -> slot in the caller's layout
        r.SetId(Id);
        r.SetBundlePath($"/run/containers/storage/overlay-containers/{Id}/userdata");
        r.Stdin = true;
        r.InitExitPaths(1).Set(0, $"/var/run/crio/exits/{Id}");
        r.InitOomExitPaths(1).Set(0, $"/var/lib/containers/storage/overlay-containers/{Id}/userdata/oom");
        LogDriverBuilder log = r.InitLogDrivers(1)[0];
        log.Type = LogDriverType.ContainerRuntimeInterface;
        log.SetPath("/var/log/pods/default_web-0_7d1e/web/0.log");
        log.MaxSize = 16 << 20;
        TextListBuilder cleanup = r.InitCleanupCmd(4);
        foreach ((int i, string a) in new[] { "/usr/bin/crio", "--config", "/etc/crio/crio.conf", "cleanup" }.Index()) cleanup.Set(i, a);
        TextListBuilder global = r.InitGlobalArgs(3);
        foreach ((int i, string a) in new[] { "--root=/run/runc", "--systemd-cgroup", "--log-format=json" }.Index()) global.Set(i, a);
        TextListBuilder command = r.InitCommandArgs(args);
        for (int i = 0; i < args; i++) command.Set(i, $"--arg-{i}=value-{i}");
        if (old) s.GetPointer(8).SetData(MetadataOld);
        Pairs(s.GetPointer(Slot(8)), [("traceparent", Trace)]);
        (string, string)[] env = new (string, string)[envVars];
        for (int i = 0; i < envVars; i++) env[i] = ($"VARIABLE_{i}", $"/some/value/of/variable/{i}");
        Pairs(s.GetPointer(Slot(9)), env);
        r.CgroupManager = CgroupManager.Systemd;
        s.GetPointer(Slot(10)).InitList<ulong>(2);
        s.GetPointer(Slot(11)).InitList<ulong>(1);
        return m.Frame.ToArray();
    }

    /// <summary>version params (verbose, one metadata entry; v0.7: metadataOld at pointer 0 as well).</summary>
    public static byte[] Version(bool old)
    {
        using var m = new MessageBuilder();
        var p = new VersionParamsBuilder(m.InitRoot(VersionParamsBuilder.DataWords, VersionParamsBuilder.PointerCount));
        StructBuilder s = p.RequestPointer.InitStruct(VersionRequestBuilder.DataWords, (ushort)(VersionRequestBuilder.PointerCount + (old ? 1 : 0)));
        new VersionRequestBuilder(s).Verbose = true;
        if (old) s.GetPointer(0).SetData(MetadataOld);
        Pairs(s.GetPointer(old ? 1 : 0), [("traceparent", Trace)]);
        return m.Frame.ToArray();
    }

    static void Pairs(PointerBuilder p, (string Key, string Value)[] pairs)
    {
        var list = new TextTextMapEntryListBuilder(p.InitStructList(pairs.Length, TextTextMapEntryBuilder.DataWords, TextTextMapEntryBuilder.PointerCount));
        for (int i = 0; i < pairs.Length; i++)
        {
            list[i].SetKey(pairs[i].Key);
            list[i].SetValue(pairs[i].Value);
        }
    }
}
