using System.Text;
using System.Text.Json;
using Podmon.Capnp;
using Podmon.Capnp.Rpc;
using Podmon.IntegrationTests.Rpc;
using Podmon.Schema;

namespace Podmon.IntegrationTests.Tracing;

/// <summary>
/// The published server with --enable-tracing against a collector nobody here wrote: a span per RPC
/// call named after the method, parented by the trace context in the request's metadata in either
/// schema generation (the v1.0 map; v0.7.x's metadataOld JSON, as CRI-O 1.26 sends it), the outcome
/// and an error status on failure, podmon's resource; a malformed traceparent starts a new trace and
/// fails nothing. With tracing off there is no exporter thread at all.
/// </summary>
public class ServerTracingTests
{
    const string P1 = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const string P2 = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const string P3 = "00-11111111111111111111111111111111-2222222222222222-01";

    static Action<PointerBuilder> Version(bool old, string? traceparent, string? metadataOld = null) => p =>
    {
        StructBuilder s = p.InitStruct(VersionRequestBuilder.DataWords, (ushort)(VersionRequestBuilder.PointerCount + (old ? 1 : 0)));
        if (old && metadataOld is not null) s.GetPointer(0).SetData(Encoding.UTF8.GetBytes(metadataOld));
        if (traceparent is not null) Metadata(s.GetPointer(old ? 1 : 0), ("traceparent", traceparent));
    };

    static void Metadata(PointerBuilder p, params (string Key, string Value)[] pairs)
    {
        var list = new TextTextMapEntryListBuilder(p.InitStructList(pairs.Length, TextTextMapEntryBuilder.DataWords, TextTextMapEntryBuilder.PointerCount));
        for (int i = 0; i < pairs.Length; i++)
        {
            list[i].SetKey(pairs[i].Key);
            list[i].SetValue(pairs[i].Value);
        }
    }

    static Dictionary<string, string> FastExport => new() { ["OTEL_BSP_SCHEDULE_DELAY"] = "100" };

    [Fact]
    public void Every_call_is_a_span_under_the_callers_trace_in_both_generations()
    {
        using var rx = OtlpReceiver.Start();
        using var dir = new PodmonProcess.RuntimeDir();
        var run = PodmonProcess.Run(["--runtime", "/bin/true", "--runtime-dir", dir.Path, "--log-driver", "none",
            "--enable-tracing", "--tracing-endpoint", $"http://127.0.0.1:{rx.Port}"], FastExport);
        Assert.True(run.ExitCode == 0, run.Stderr);
        int pid = dir.ServerPid!.Value;

        using (var c = new RawClient(dir.Socket))
        {
            c.Send(RpcWire.Bootstrap(0),
                RpcWire.CallWith(1, (ushort)ConmonMethod.Version, Version(old: false, P1)),
                RpcWire.CallWith(2, (ushort)ConmonMethod.Version, Version(old: true, null, $$"""{"traceparent":"{{P2}}"}""")),
                RpcWire.CallWith(3, (ushort)ConmonMethod.AttachContainer, p =>
                {
                    var a = new AttachRequestBuilder(p.InitStruct(AttachRequestBuilder.DataWords, AttachRequestBuilder.PointerCount));
                    a.SetId("no-such-container");
                    a.SetSocketPath(Path.Combine(dir.Path, "attach"));
                    Metadata(a.MetadataPointer, ("traceparent", P3), ("tracestate", "k=v"));
                }),
                RpcWire.CallWith(4, (ushort)ConmonMethod.Version, Version(old: false, "00-not-a-trace-01")));
            var answered = new HashSet<uint>();
            while (answered.Count < 5 && c.ReadFrame() is { } f)
                if (RpcWire.Decode(f) is { Which: RpcMessageWhich.Return } m) answered.Add(m.Id);
            Assert.Equal(5, answered.Count); // a malformed traceparent fails nothing
        }

        List<JsonElement> spans = rx.WaitForSpans(s => s.Count >= 4, "four call spans");
        JsonElement Child(string traceparent) => Assert.Single(spans, s => s.GetProperty("trace_id").GetString() == traceparent[3..35]);

        JsonElement v1 = Child(P1), v07 = Child(P2), attach = Child(P3);
        Assert.Equal(P1[36..52], v1.GetProperty("parent_span_id").GetString());
        Assert.Equal(P2[36..52], v07.GetProperty("parent_span_id").GetString());
        Assert.Equal(P3[36..52], attach.GetProperty("parent_span_id").GetString());
        Assert.Equal(("version", "version", "attach_container"),
            (v1.GetProperty("name").GetString(), v07.GetProperty("name").GetString(), attach.GetProperty("name").GetString()));
        foreach (JsonElement s in new[] { v1, v07, attach })
        {
            Assert.Equal(2, s.GetProperty("kind").GetInt32()); // SERVER
            Assert.Equal("podmon", s.GetProperty("resource").GetProperty("service.name").GetString());
            Assert.Equal(pid, s.GetProperty("resource").GetProperty("process.pid").GetInt64());
        }
        Assert.Equal("ok", v1.GetProperty("attributes").GetProperty("outcome").GetString());
        Assert.Equal("k=v", attach.GetProperty("trace_state").GetString());
        Assert.Equal("no-such-container", attach.GetProperty("attributes").GetProperty("container_id").GetString());
        Assert.Equal("error", attach.GetProperty("attributes").GetProperty("outcome").GetString());
        Assert.Equal(2, attach.GetProperty("status").GetProperty("code").GetInt32()); // STATUS_CODE_ERROR
        Assert.Contains("not found", attach.GetProperty("status").GetProperty("message").GetString());

        // The malformed traceparent: a root span of a trace of its own.
        JsonElement root = Assert.Single(spans, s => s.GetProperty("parent_span_id").GetString() == "");
        Assert.Equal("version", root.GetProperty("name").GetString());
        Assert.DoesNotContain(root.GetProperty("trace_id").GetString(), new[] { P1[3..35], P2[3..35], P3[3..35] });
    }

    [Fact]
    public void Tracing_on_is_one_more_thread_and_off_is_none()
    {
        using var rx = OtlpReceiver.Start();
        using var off = new RpcTestServer();
        using var on = new RpcTestServer("/bin/true", "--enable-tracing", "--tracing-endpoint", $"http://127.0.0.1:{rx.Port}");
        Assert.Equal(off.Threads + 1, on.Threads);
    }
}
