using System.Diagnostics;
using Podmon.Tracing;
using Podmon.Tracing.Otlp;

namespace Podmon.IntegrationTests.Tracing;

/// <summary>
/// The hand-written encoding read by Debian's protoc (protobuf-compiler 3.21) with the
/// opentelemetry-proto files of tests/fixtures/otlp: every field where the schema puts it, nothing
/// unknown, nothing left over. The ids are printable bytes so protoc's text shows them plainly.
/// </summary>
public class ProtocDecodeTests
{
    sealed class Keep : ISpanSink
    {
        public void Enqueue(Span span) { }
    }

    static string Decode(byte[] message)
    {
        var psi = new ProcessStartInfo("protoc")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
            WorkingDirectory = Repo.Path("tests", "fixtures", "otlp"),
        };
        foreach (string a in (string[])["--decode=opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest",
                 "opentelemetry/proto/collector/trace/v1/trace_service.proto"])
            psi.ArgumentList.Add(a);
        using Process p = Process.Start(psi)!;
        Task<string> output = p.StandardOutput.ReadToEndAsync(), errors = p.StandardError.ReadToEndAsync();
        p.StandardInput.BaseStream.Write(message);
        p.StandardInput.Close();
        Assert.True(p.WaitForExit(60_000), "protoc did not finish");
        Assert.True(p.ExitCode == 0, $"protoc --decode failed: {errors.Result}");
        return output.Result;
    }

    static ulong Ascii(string eight) => BitConverter.ToUInt64(eight.Select(c => (byte)c).Reverse().ToArray());

    [Fact]
    public void ProtocReadsTheRequestAsTheSchemaSays()
    {
        var sink = new Keep();
        var root = new Span(sink, new SpanContext(Ascii("TRACEid0"), Ascii("12345678"), Ascii("SPANid01"), 1, null, false),
            0, "Version", SpanKind.Server, 1_700_000_000_000_000_001);
        root.SetAttribute("rpc.method", "Version");
        root.SetAttribute("verbose", false);
        root.EndAt(1_700_000_000_500_000_000);
        var child = new Span(sink, new SpanContext(Ascii("TRACEid0"), Ascii("12345678"), Ascii("SPANid02"), 1, "k=v", false),
            Ascii("PARENT01"), "runc", SpanKind.Client, 1_700_000_000_000_000_002) { ParentIsRemote = true };
        child.SetAttribute("exit.code", -1L);
        child.SetError("boom");
        child.EndAt(1_700_000_000_400_000_000);

        var w = new ProtoWriter();
        new TraceRequestEncoder("podmon", 4711, "node-a").Encode(w, [root, child]);
        string text = Decode(w.Written.ToArray());
        Assert.Equal(Expected, text);
    }

    // protoc's text format; flags 257 = sampled | HAS_IS_REMOTE, 769 = that | IS_REMOTE.
    const string Expected = """
        resource_spans {
          resource {
            attributes {
              key: "service.name"
              value {
                string_value: "podmon"
              }
            }
            attributes {
              key: "process.pid"
              value {
                int_value: 4711
              }
            }
            attributes {
              key: "host.name"
              value {
                string_value: "node-a"
              }
            }
          }
          scope_spans {
            scope {
              name: "podmon"
            }
            spans {
              trace_id: "TRACEid012345678"
              span_id: "SPANid01"
              name: "Version"
              kind: SPAN_KIND_SERVER
              start_time_unix_nano: 1700000000000000001
              end_time_unix_nano: 1700000000500000000
              attributes {
                key: "rpc.method"
                value {
                  string_value: "Version"
                }
              }
              attributes {
                key: "verbose"
                value {
                  bool_value: false
                }
              }
              flags: 257
            }
            spans {
              trace_id: "TRACEid012345678"
              span_id: "SPANid02"
              trace_state: "k=v"
              parent_span_id: "PARENT01"
              name: "runc"
              kind: SPAN_KIND_CLIENT
              start_time_unix_nano: 1700000000000000002
              end_time_unix_nano: 1700000000400000000
              attributes {
                key: "exit.code"
                value {
                  int_value: -1
                }
              }
              status {
                message: "boom"
                code: STATUS_CODE_ERROR
              }
              flags: 769
            }
          }
        }

        """;
}
