// Probe for bench/otel-sdk/measure.sh: one program, built twice.
//   baseline: prints "ready", then idles, blocked in read(2) on stdin (the same kind of idle as
//             podmon's epoll_wait: one thread parked in the kernel, no timers).
//   sdk (OTEL_SDK): the same plus a TracerProvider with one ActivitySource and the OTLP exporter
//             (gRPC, batch processor, endpoint from argv[1]), built before "ready".
// Commands, one per line on stdin, each answered with one line on stdout:
//   spans N [CHUNK]  start and end N spans (3 attributes each, parented from a W3C traceparent),
//                    calling ForceFlush after every CHUNK spans (default 1000; 0 = never), so a
//                    burst never overflows the batch processor's 2048-span queue; answers "done N ms"
//   flush            ForceFlush now; answers "flushed"
//   gc               a full blocking compacting GC; answers "gc HEAP_BYTES" (GC.GetTotalMemory after)
//   quit             shut down (flushing) and exit; answers "bye"
using System.Diagnostics;
using System.Text;
#if OTEL_SDK
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Trace;
#endif

static class Probe
{
    const string Traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    static int Main(string[] args)
    {
#if OTEL_SDK
        if (args.Length < 1)
        {
            Console.Error.WriteLine("usage: sdk http://127.0.0.1:PORT");
            return 2;
        }
        using var source = new ActivitySource("podmon.probe");
        using var provider = Sdk.CreateTracerProviderBuilder()
            .AddSource("podmon.probe")
            .AddOtlpExporter(o =>
            {
                o.Endpoint = new Uri(args[0]);
                o.Protocol = OtlpExportProtocol.Grpc;
                o.ExportProcessorType = ExportProcessorType.Batch;
            })
            .Build();
        if (!ActivityContext.TryParse(Traceparent, null, out var parent))
        {
            Console.Error.WriteLine("bad traceparent");
            return 2;
        }
#endif
        var stdout = Console.OpenStandardOutput();
        var stdin = Console.OpenStandardInput();
        Reply(stdout, "ready");
        var line = new StringBuilder();
        var buf = new byte[256];
        for (;;)
        {
            int n = stdin.Read(buf, 0, buf.Length);
            if (n <= 0)
                return 0;
            for (int i = 0; i < n; i++)
            {
                if (buf[i] != (byte)'\n')
                {
                    line.Append((char)buf[i]);
                    continue;
                }
                var words = line.ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries);
                line.Clear();
                if (words.Length == 0)
                    continue;
                switch (words[0])
                {
                    case "quit":
#if OTEL_SDK
                        provider.Shutdown();
#endif
                        Reply(stdout, "bye");
                        return 0;
#if OTEL_SDK
                    case "spans":
                    {
                        int count = int.Parse(words[1]);
                        int chunk = words.Length > 2 ? int.Parse(words[2]) : 1000;
                        var sw = Stopwatch.StartNew();
                        for (int k = 1; k <= count; k++)
                        {
                            using (var a = source.StartActivity("probe.span", ActivityKind.Internal, parent))
                            {
                                a?.SetTag("container.id", "4f2a9c0e1b7d");
                                a?.SetTag("probe.seq", k);
                                a?.SetTag("probe.ok", true);
                            }
                            if (chunk > 0 && k % chunk == 0)
                                provider.ForceFlush();
                        }
                        if (chunk > 0)
                            provider.ForceFlush();
                        Reply(stdout, $"done {count} {sw.ElapsedMilliseconds}");
                        break;
                    }
                    case "flush":
                        provider.ForceFlush();
                        Reply(stdout, "flushed");
                        break;
#endif
                    case "gc":
                        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                        Reply(stdout, "gc " + GC.GetTotalMemory(false));
                        break;
                    default:
                        Reply(stdout, "unknown " + words[0]);
                        break;
                }
            }
        }
    }

    static void Reply(Stream stdout, string text)
    {
        stdout.Write(Encoding.ASCII.GetBytes(text + "\n"));
        stdout.Flush();
    }
}
